"""Gemini 3 signs the answer's last text chunk (or an empty part after it): the canonical stream carries the
signature first (a signature-only thinking block) and the answer as one text block, whatever the chunking; the
request built from that history hands the signature back on the text."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bifrostc.runtime.translate import gemini
from bifrostc.runtime.translate.gemini_stream import StreamParser
from bifrostc.runtime.translate.replay import events_to_response
from bifrostc.runtime.types import BlockDelta, BlockStart, ChatRequest, Message, StreamEvent, TextPart

SIGNATURE = "c2lnbmVkLWFuc3dlcg=="


def _chunk(*parts: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    return {"responseId": "r1", "candidates": [candidate]}


def _events(model: str, chunks: list[dict[str, Any]]) -> list[StreamEvent]:
    parser = StreamParser(model=model)
    events = [ev for chunk in chunks for ev in parser.feed(chunk)]
    return events + parser.finish()


def _blocks(events: list[StreamEvent]) -> list[tuple[str, str]]:
    kinds = {ev.index: ev.type for ev in events if isinstance(ev, BlockStart)}
    found: dict[int, list[str]] = {}
    for ev in events:
        if isinstance(ev, BlockDelta):
            found.setdefault(ev.index, []).append(ev.text)
    return [(kinds[i], "".join(found.get(i, []))) for i in sorted(kinds)]


@given(
    pieces=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6),
    empty_last_part=st.booleans(),
    thoughts=st.booleans(),
)
def test_a_signed_answer_is_one_text_block_after_its_signature(
    pieces: list[str], empty_last_part: bool, thoughts: bool
) -> None:
    chunks = [_chunk({"text": "pondering", "thought": True})] if thoughts else []
    chunks += [_chunk({"text": piece}) for piece in pieces[:-1]]
    if empty_last_part:
        chunks += [_chunk({"text": pieces[-1]}), _chunk({"text": "", "thoughtSignature": SIGNATURE}, finish="STOP")]
    else:
        chunks += [_chunk({"text": pieces[-1], "thoughtSignature": SIGNATURE}, finish="STOP")]
    blocks = _blocks(_events("gemini-3-pro-preview", chunks))
    expected = [("thinking", "pondering")] if thoughts else []
    assert blocks == [*expected, ("thinking", f"bfc:gemini:{SIGNATURE}"), ("text", "".join(pieces))]


def test_an_unsigned_gemini_3_answer_is_still_one_text_block_and_older_models_stream_as_before() -> None:
    chunks = [_chunk({"text": "one "}), _chunk({"text": "two"}, finish="STOP")]
    assert _blocks(_events("gemini-3-flash-preview", chunks)) == [("text", "one two")]
    assert _blocks(_events("gemini-2.5-pro", chunks)) == [("text", "one two")]


def test_the_next_turn_hands_the_signature_back_on_the_answer_text() -> None:
    chunks = [_chunk({"text": "the answer"}), _chunk({"text": "", "thoughtSignature": SIGNATURE}, finish="STOP")]
    response = events_to_response(_events("gemini-3-pro-preview", chunks))
    history = [
        Message("user", [TextPart("question")]),
        Message("assistant", response.content),
        Message("user", [TextPart("again")]),
    ]
    body = gemini.build_request(ChatRequest(model="m", messages=history, max_tokens=8), model="gemini-3-pro-preview")
    assert body["contents"][1]["parts"] == [{"text": "the answer", "thoughtSignature": SIGNATURE}]


def test_a_whole_response_keeps_the_signature_before_the_text_it_closes() -> None:
    body = _chunk({"text": "the answer"}, {"text": "", "thoughtSignature": SIGNATURE}, finish="STOP")
    parsed = gemini.parse_response(body, model="gemini-3-pro-preview")
    assert [type(p).__name__ for p in parsed.content] == ["ThinkingPart", "TextPart"]
