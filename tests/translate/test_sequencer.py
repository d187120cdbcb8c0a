"""BlockSequencer: interleaved parallel tool-call blocks come out one block at a time, nothing lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bifrostc.runtime.translate.sequencer import BlockSequencer
from bifrostc.runtime.types import BlockDelta, BlockStart, BlockStop, MessageDelta, MessageStop, StreamEvent


@st.composite
def interleaved_blocks(draw: st.DrawFn) -> list[StreamEvent]:
    """Blocks opened in index order whose deltas and stops interleave arbitrarily (as OpenAI may send them)."""
    count = draw(st.integers(1, 4))
    fragments = [draw(st.lists(st.text(max_size=5), max_size=4)) for _ in range(count)]
    queues = [[BlockDelta(i, "arguments", text) for text in fragments[i]] + [BlockStop(i)] for i in range(count)]
    events: list[StreamEvent] = []
    opened = 0
    while opened < count or any(queues):
        choices = ["open"] if opened < count else []
        choices += [str(i) for i in range(opened) if queues[i]]
        pick = draw(st.sampled_from(choices))
        if pick == "open":
            events.append(BlockStart(opened, "tool_use", id=f"call_{opened}", name="t"))
            opened += 1
        else:
            events.append(queues[int(pick)].pop(0))
    return [*events, MessageDelta("tool_use"), MessageStop()]


def _run(events: list[StreamEvent]) -> list[StreamEvent]:
    sequencer = BlockSequencer()
    return [out for event in events for out in sequencer.push(event)]


@given(interleaved_blocks())
def test_blocks_never_interleave_and_keep_their_content(events: list[StreamEvent]) -> None:
    out = _run(events)
    open_index: int | None = None
    seen_order: list[int] = []
    for event in out:
        if isinstance(event, BlockStart):
            assert open_index is None
            open_index = event.index
            seen_order.append(event.index)
        elif isinstance(event, BlockDelta):
            assert event.index == open_index
        elif isinstance(event, BlockStop):
            assert event.index == open_index
            open_index = None
    assert open_index is None
    assert seen_order == sorted(seen_order)

    def text_of(stream: list[StreamEvent], index: int) -> str:
        return "".join(e.text for e in stream if isinstance(e, BlockDelta) and e.index == index)

    for index in seen_order:
        assert text_of(out, index) == text_of(events, index)
    assert isinstance(out[-2], MessageDelta) and isinstance(out[-1], MessageStop)


def test_sequential_blocks_stream_live() -> None:
    events = [BlockStart(0, "text"), BlockDelta(0, "text", "a"), BlockStop(0), BlockStart(1, "text")]
    sequencer = BlockSequencer()
    assert [len(sequencer.push(e)) for e in events] == [1, 1, 1, 1]


def test_unclosed_blocks_are_closed_at_message_end() -> None:
    started = [BlockStart(0, "tool_use", id="a", name="t"), BlockStart(1, "tool_use", id="b", name="t")]
    out = _run([*started, MessageStop()])
    assert [type(e).__name__ for e in out] == ["BlockStart", "BlockStop", "BlockStart", "BlockStop", "MessageStop"]
