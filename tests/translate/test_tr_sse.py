"""SSE framing and incremental parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from bifrostc.runtime.translate.sse import DONE, ServerSentEvent, SSEDecoder, aiter_sse, encode_frame, next_frame_end


def test_frames_carry_event_name_and_compact_json():
    assert encode_frame({"type": "ping"}, event="ping") == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert encode_frame(b"[DONE]") == DONE


def test_decoder_handles_crlf_comments_multiline_data_and_split_crlf():
    decoder = SSEDecoder()
    events = decoder.feed(b": keep-alive\r\nevent: a\r\ndata: one\r")
    assert events == []
    events = decoder.feed(b"\ndata: two\r\n\r\ndata:x\n\n")
    assert events == [ServerSentEvent("a", "one\ntwo"), ServerSentEvent("message", "x")]


def test_decoder_flushes_a_last_event_without_blank_line():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.flush() == [ServerSentEvent("message", "[DONE]")]
    assert decoder.flush() == []


def test_decoder_keeps_multibyte_characters_split_across_chunks():
    raw = encode_frame({"text": "héllo ✓"})
    decoder = SSEDecoder()
    events = [e for i in range(len(raw)) for e in decoder.feed(raw[i : i + 1])]
    assert events[0].json() == {"text": "héllo ✓"}


async def test_aiter_sse_reads_an_async_byte_stream():
    async def body() -> AsyncIterator[bytes]:
        yield b"event: message_start\ndata: {}\n"
        yield b"\nevent: ping\ndata: {}\n\n"

    assert [e.event async for e in aiter_sse(body())] == ["message_start", "ping"]


@given(
    st.lists(
        st.tuples(st.text(alphabet="ab:{}\r", min_size=1, max_size=12), st.sampled_from([b"\n\n", b"\r\n\r\n"])),
        max_size=8,
    )
)
def test_next_frame_end_walks_mixed_line_endings_frame_by_frame(frames: list[tuple[str, bytes]]) -> None:
    """LF and CRLF frames mixed in one read come back one by one (passthrough cuts and drops by frame)."""
    pieces = [b"data: " + text.replace("\r", "").encode() + end for text, end in frames]
    buffer, start, seen = b"".join(pieces), 0, []
    while start < len(buffer):
        end = next_frame_end(buffer, start)
        seen.append(buffer[start:end])
        start = end
    assert seen == pieces


_VALUES = st.text(alphabet=" a:é{", max_size=6)


@given(st.lists(st.lists(st.tuples(st.sampled_from(["data:", "data: ", "data"]), _VALUES), min_size=1, max_size=3)))
def test_data_lines_with_or_without_the_space_and_bare_data_fields_decode_per_the_spec(
    events: list[list[tuple[str, str]]],
) -> None:
    """WHATWG: one space after the colon is dropped, a bare `data` line is an empty value, lines join with LF."""
    raw = b"".join(
        "".join(f"{field}{value}\n" if field != "data" else "data\n" for field, value in lines).encode() + b"\n"
        for lines in events
    )
    got = SSEDecoder().feed(raw)

    def value_of(field: str, value: str) -> str:
        if field == "data":
            return ""
        return value[1:] if field == "data:" and value.startswith(" ") else value

    expected = ["\n".join(value_of(field, value) for field, value in lines) for lines in events]
    assert [e.data for e in got] == expected
