"""One probe step observed: what the canonical stream delivered, and how, as Claude Code would receive it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bifrostc.runtime.dialects.relay import merge_usage
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate.replay import StreamAccumulator
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    ChatResponse,
    MessageDelta,
    MessageStart,
    StreamError,
    StreamEvent,
    ThinkingPart,
    ToolCallPart,
    Usage,
)


@dataclass
class Observation:
    """A step's result: the assembled response, or the error that ended it."""

    response: ChatResponse | None = None
    error: str | None = None
    status: int | None = None
    ttft_ms: float | None = None  # first content delta after the request was sent
    argument_deltas: dict[str, int] = field(default_factory=dict)  # tool call id -> argument fragments received
    usage: Usage = field(default_factory=Usage)

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        content = self.response.content if self.response else []
        return [part for part in content if isinstance(part, ToolCallPart)]

    @property
    def thinking(self) -> list[ThinkingPart]:
        content = self.response.content if self.response else []
        return [part for part in content if isinstance(part, ThinkingPart)]

    @property
    def stop_reason(self) -> str | None:
        return self.response.stop_reason if self.response else None


async def observe(stream: AsyncIterator[StreamEvent], timeout: float) -> Observation:
    """Read a whole canonical stream within `timeout` seconds; upstream failures become the observation's error."""
    seen = Observation()
    started = time.monotonic()
    accumulator = StreamAccumulator()
    call_ids: dict[int, str] = {}
    try:
        async with asyncio.timeout(timeout):
            async for event in stream:
                if isinstance(event, StreamError):
                    seen.error, seen.status = event.message, event.status
                    return seen
                if isinstance(event, BlockDelta) and seen.ttft_ms is None:
                    seen.ttft_ms = (time.monotonic() - started) * 1000
                if isinstance(event, BlockStart) and event.type == "tool_use":
                    call_ids[event.index] = event.id or f"#{event.index}"
                elif isinstance(event, BlockDelta) and event.kind == "arguments" and event.text:
                    call = call_ids.get(event.index, f"#{event.index}")
                    seen.argument_deltas[call] = seen.argument_deltas.get(call, 0) + 1
                elif isinstance(event, MessageStart | MessageDelta):
                    merge_usage(seen.usage, event.usage)
                accumulator.add(event)
    except TimeoutError:
        seen.error, seen.status = f"no complete answer within {timeout:g}s", 504
        return seen
    except GatewayError as exc:
        seen.error, seen.status = exc.message, exc.status
        return seen
    finally:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()
    seen.response = accumulator.result()
    return seen
