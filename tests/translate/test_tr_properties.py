"""Property tests: canonical -> dialect -> canonical round trips, and streamed tool-call arguments cut anywhere."""

from __future__ import annotations

import dataclasses

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import anthropic, openai, replay, responses
from bifrostc.runtime.translate.claude_history import opens_without_thinking
from bifrostc.runtime.translate.responses_tools import namespaced_name
from bifrostc.runtime.translate.sse import SSEDecoder, encode_frame
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    ToolCallPart,
    Usage,
)

from .strategies import (
    anthropic_requests,
    anthropic_responses,
    arguments,
    ident,
    json_object,
    json_scalar,
    openai_requests,
    openai_responses,
    split,
)
from .streams import chunk, encode_anthropic, parse_openai_chunks, tool_delta

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(anthropic_requests())
def test_requests_round_trip_through_the_anthropic_dialect(req):
    built = anthropic.build_request(req, model=req.model)
    # Claude refuses thinking when the last assistant turn uses tools without opening with thinking: the one
    # change the builder makes on purpose (see claude_history).
    expected = dataclasses.replace(req, thinking=None) if opens_without_thinking(built["messages"]) else req
    assert anthropic.parse_request(built) == expected


@SETTINGS
@given(openai_requests())
def test_requests_round_trip_through_the_openai_dialect(req):
    assert openai.parse_request(openai.build_request(req, model=req.model)) == req


@SETTINGS
@given(anthropic_responses())
def test_responses_round_trip_through_the_anthropic_dialect(resp):
    assert anthropic.parse_response(anthropic.build_response(resp)) == resp


@SETTINGS
@given(openai_responses())
def test_responses_round_trip_through_the_openai_dialect(resp):
    assert openai.parse_response(openai.build_response(resp)) == resp


@SETTINGS
@given(anthropic_responses())
def test_replayed_responses_aggregate_back_to_themselves(resp):
    assert replay.events_to_response(replay.response_to_events(resp)) == resp


@st.composite
def interleaved_tool_chunks(draw: st.DrawFn) -> tuple[list[dict], list[ToolCallPart], str]:
    calls = draw(
        st.lists(st.builds(ToolCallPart, ident, ident, arguments), min_size=1, max_size=4, unique_by=lambda c: c.id)
    )
    lead = draw(st.text(max_size=8))
    fragments = [split(draw, call.arguments) or [""] for call in calls]
    order = draw(st.permutations([i for i, f in enumerate(fragments) for _ in f]))
    chunks = [chunk({"content": lead})] if lead else []
    sent = [0] * len(calls)
    opened = [calls[slot] for slot in dict.fromkeys(order)]  # blocks open in order of first appearance
    for slot in order:
        piece = fragments[slot][sent[slot]]
        first = sent[slot] == 0
        sent[slot] += 1
        call = calls[slot]
        chunks.append(chunk(tool_delta(slot, piece, call.id if first else None, call.name if first else None)))
    return [*chunks, chunk({}, "tool_calls")], opened, lead


@SETTINGS
@given(interleaved_tool_chunks(), st.data())
def test_tool_call_arguments_cut_anywhere_reassemble_through_both_encodings(case, data):
    chunks, calls, lead = case
    events = parse_openai_chunks(chunks)
    starts = [e.index for e in events if isinstance(e, BlockStart)]
    assert starts == list(range(len(starts)))
    assert sorted(e.index for e in events if isinstance(e, BlockStop)) == starts
    response = replay.events_to_response(events)
    assert [p for p in response.content if isinstance(p, ToolCallPart)] == calls
    # and through Anthropic SSE bytes, cut at random byte boundaries, parsed back by our own upstream parser
    sse = encode_anthropic(events)
    decoder, parser, again = SSEDecoder(), anthropic.StreamParser(), []
    for piece in split(data.draw, sse.decode("latin-1")):
        for frame in decoder.feed(piece.encode("latin-1")):
            again.extend(parser.feed(frame.event, frame.json()))
    for frame in decoder.flush():
        again.extend(parser.feed(frame.event, frame.json()))
    assert replay.events_to_response(again) == response
    text = [p.text for p in response.content if not isinstance(p, ToolCallPart)]
    assert text == ([lead] if lead else [])


@SETTINGS
@given(st.lists(st.tuples(st.none() | ident, st.dictionaries(ident, st.text())), max_size=5), st.data())
def test_sse_decoder_is_indifferent_to_how_bytes_are_cut(frames, data):
    raw = b"".join(encode_frame(payload, event=event) for event, payload in frames)
    cut = split(data.draw, raw.decode("latin-1"))
    decoder, got = SSEDecoder(), []
    for piece in cut:
        got.extend(decoder.feed(piece.encode("latin-1")))
    got.extend(decoder.flush())
    assert [(e.event, orjson.loads(e.data)) for e in got] == [
        (event or "message", payload) for event, payload in frames
    ]


_KINDS = st.sampled_from(["text", "thinking", "signature", "arguments"])
_BLOCK_EVENTS = st.one_of(
    st.builds(BlockStart, st.integers(0, 3), st.sampled_from(["text", "thinking", "tool_use"])),
    st.builds(BlockDelta, st.integers(0, 3), _KINDS, st.text()),
    st.builds(BlockStop, st.integers(0, 3)),
)


class _GeneralEncoder(anthropic.StreamEncoder):
    """Every event through the sequencer and `_encode_one`: what the live block's delta shortcut must equal."""

    def encode(self, event):  # type: ignore[no-untyped-def]
        return b"".join(self._encode_one(ev) for ev in self._sequencer.push(event))


@SETTINGS
@given(st.lists(_BLOCK_EVENTS, max_size=30))
def test_the_anthropic_encoders_delta_shortcut_sends_the_same_bytes(events):
    stream = [MessageStart("msg_1", "m"), *events, MessageDelta("end_turn", Usage(1, 2)), MessageStop()]
    fast, general = anthropic.StreamEncoder(), _GeneralEncoder()
    assert [fast.encode(ev) for ev in stream] == [general.encode(ev) for ev in stream]


_DELTAS = st.one_of(
    st.builds(lambda text: {"content": text}, st.text()),
    st.builds(lambda text: {"role": "assistant", "content": text}, st.text()),
    st.builds(lambda text: {"reasoning_content": text}, st.text()),
    st.builds(lambda text: {"content": None, "refusal": text}, st.text()),
)


@SETTINGS
@given(st.lists(st.tuples(_DELTAS, st.sampled_from([None, None, None, "stop", "length"])), min_size=1, max_size=20))
def test_the_openai_parsers_text_shortcut_gives_the_same_events(deltas):
    def chunk_of(delta: dict, finish: str | None) -> dict:
        return {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk_of(d, f) for d, f in deltas]
    general = [chunk_of({**d, "x": None}, f) for d, f in deltas]  # a null key more: never the shortcut
    fast_parser, general_parser = openai.StreamParser(), openai.StreamParser()
    fast = [ev for c in chunks for ev in fast_parser.feed(c)] + fast_parser.finish()
    assert fast == [ev for c in general for ev in general_parser.feed(c)] + general_parser.finish()


_schema = st.just({"type": "object", "properties": {}})
_anthropic_tool = st.one_of(
    st.fixed_dictionaries({"name": ident, "input_schema": _schema}, optional={"type": st.just("custom")}),
    st.fixed_dictionaries({"type": st.sampled_from(["web_search_20250305", "bash_20250124"]), "name": ident}),
    json_object,
    json_scalar,
)
_openai_tool = st.one_of(
    st.fixed_dictionaries(
        {"function": st.fixed_dictionaries({"name": ident, "parameters": _schema})},
        optional={"type": st.just("function")},
    ),
    st.fixed_dictionaries({"type": st.just("custom"), "custom": st.fixed_dictionaries({"name": ident})}),
    json_object,
    json_scalar,
)
_TOOL_DIALECTS = {
    "anthropic": (anthropic, _anthropic_tool),
    "openai": (openai, _openai_tool),
}


@SETTINGS
@given(st.sampled_from(sorted(_TOOL_DIALECTS)), st.data())
def test_a_relayed_tool_count_is_what_the_parse_makes_or_none_when_the_parse_refuses(name, data):
    """`tool_count` stands in for the tool parse of a relayed request (handlers/relay_parse.py): equal to the
    parsed tools' number wherever the parse takes the list; None only where it refuses it."""
    module, tool = _TOOL_DIALECTS[name]
    tools = data.draw(st.lists(tool, max_size=4) | json_scalar | json_object)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": tools}
    count = module.tool_count(tools)
    try:
        parsed: int | None = len(module.parse_request(body).tools)
    except InvalidRequest:
        parsed = None
    assert count == parsed or (count is not None and parsed is None)


_callable = st.fixed_dictionaries({"type": st.sampled_from(["function", "custom"]), "name": ident})
_responses_tool = st.one_of(
    _callable,
    st.fixed_dictionaries(
        {"type": st.just("namespace"), "name": ident, "tools": st.lists(_callable | json_object, max_size=3)}
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["web_search", "file_search"])}),
    st.builds(lambda ns, name: {"type": "function", "name": f"{ns}__{name}"}, ident, ident),  # a taken flat name
    json_object,
    json_scalar,
)


def _flat_name_taken(tools: object) -> bool:
    """Whether a namespaced tool's flat name is a top-level tool's or another namespaced one's."""
    listed = [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
    names = [t.get("name") for t in listed if t.get("type") in ("function", "custom")]
    for tool in listed:
        if tool.get("type") == "namespace" and isinstance(tool.get("tools"), list):
            for inner in tool["tools"]:
                if isinstance(inner, dict) and inner.get("type") in ("function", "custom"):
                    names.append(namespaced_name(str(tool.get("name")), str(inner.get("name"))))
    return len(names) != len(set(names))


@SETTINGS
@given(st.lists(_responses_tool, max_size=4) | json_scalar | json_object)
def test_a_relayed_responses_tool_count_is_what_the_parse_makes(tools):
    """The same for the Responses dialect, whose namespaces are flattened: None also where a flat name is taken
    (the table shortens it, so a parse without the tools could not name that namespace's calls)."""
    count = responses.tool_count(tools)
    try:
        parsed: int | None = len(responses.parse_request({"model": "m", "input": "hi", "tools": tools}).tools)
    except InvalidRequest:
        parsed = None
    if count is None:
        assert parsed is None or _flat_name_taken(tools)
    else:
        assert count == parsed or parsed is None
