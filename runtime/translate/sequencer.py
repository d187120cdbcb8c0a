"""Serialise content blocks: one open block at a time, as the Anthropic Messages API streams them.

OpenAI-style upstreams may interleave the argument fragments of parallel tool calls; the canonical stream keeps
them interleaved by index. Anthropic clients (Claude Code among them) expect each block's start, deltas and stop
before the next block starts, so the lowest open block streams live and the others are held back and released,
in index order, as soon as the blocks before them have stopped.
"""

from __future__ import annotations

from bifrostc.runtime.types import BlockDelta, BlockStart, BlockStop, MessageDelta, MessageStop, StreamEvent

BlockEvent = BlockStart | BlockDelta | BlockStop


class BlockSequencer:
    def __init__(self) -> None:
        self._live: int | None = None
        self._held: dict[int, list[BlockEvent]] = {}

    @property
    def live(self) -> int | None:
        """The block that streams now: its deltas pass `push` unchanged."""
        return self._live

    def push(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, BlockStart | BlockDelta | BlockStop):
            return self._block_event(event)
        if isinstance(event, MessageDelta | MessageStop):
            return [*self._release_all(), event]
        return [event]  # MessageStart, StreamError: a failed stream drops the blocks it was holding

    def _block_event(self, event: BlockEvent) -> list[StreamEvent]:
        if self._live is None and not self._held and isinstance(event, BlockStart):
            self._live = event.index
        if event.index != self._live:
            self._held.setdefault(event.index, []).append(event)
            return []
        if not isinstance(event, BlockStop):
            return [event]
        self._live = None
        return [event, *self._release_ready()]

    def _release_ready(self) -> list[StreamEvent]:
        """Release held blocks in index order; the first one still open becomes the live block."""
        out: list[StreamEvent] = []
        while self._held:
            index = min(self._held)
            events = self._held.pop(index)
            out += events
            if not isinstance(events[-1], BlockStop):
                self._live = index
                break
        return out

    def _release_all(self) -> list[StreamEvent]:
        """At the end of the message every block is released and closed (upstream may not have closed them)."""
        out: list[StreamEvent] = []
        while self._live is not None or self._held:
            if self._live is not None:
                out.append(BlockStop(self._live))
                self._live = None
            out += self._release_ready()
        return out
