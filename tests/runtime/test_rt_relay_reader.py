"""What the relay readers read off a passthrough stream (the bill's fallback count, the stop reason, usage), on any
chunk an upstream may send: odd shapes from a compatible server are relayed as they came, only not read (they
raised in the reader before: KeyError on OpenAI `choices` as an object, TypeError on a Responses `type` that is a
list, AttributeError on a usage that is not an object, Anthropic and OpenAI alike)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from rt_fakes import (
    Upstream,
    anthropic_text_stream,
    app_for,
    asgi_client,
    gateway,
    openai_chunk,
    provider,
    sse,
    sse_reply,
)

from bifrostc.runtime.dialects import Inbound
from bifrostc.runtime.dialects.anthropic_messages import AnthropicMessages
from bifrostc.runtime.dialects.base import Endpoint
from bifrostc.runtime.dialects.gemini import GeminiAPI
from bifrostc.runtime.dialects.openai_chat import OpenAIChat
from bifrostc.runtime.dialects.openai_responses import OpenAIResponses
from bifrostc.runtime.dialects.relay import SSERelayReader
from bifrostc.runtime.translate.sse import SSEDecoder

HI = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
ODD_CHUNKS: list[Any] = [
    {"id": "c", "choices": {"0": {"delta": {"content": "x"}}}},  # choices as an object
    {"id": "c", "choices": 7},
    {"id": "c", "choices": [{"delta": {"tool_calls": 5}}]},
    {"id": "c", "choices": [{"delta": {"tool_calls": [{"function": "Read"}]}}]},
    {"id": "c", "choices": ["x"], "usage": 3},
]


async def test_odd_chunks_from_a_compatible_server_are_relayed_whole_and_the_stream_ends() -> None:
    events: list[tuple[str | None, Any]] = [(None, openai_chunk({"role": "assistant", "content": ""}))]
    events += [(None, chunk) for chunk in ODD_CHUNKS]
    events += [(None, openai_chunk({"content": "done"}, "stop")), (None, openai_chunk({}, usage=USAGE))]
    upstream_body = sse(events) + b"data: [DONE]\n\n"
    gw = gateway([provider("up", "openai", key_env="UP_KEY")], {"m": [("up", "gpt-up")]})
    app = app_for(gw, Upstream().add("up.test", sse_reply(upstream_body)))
    body = {"model": "m", "stream": True, "stream_options": {"include_usage": True}, "messages": HI}
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    sent = response.content
    for chunk in ODD_CHUNKS:
        assert orjson.dumps(chunk) in sent  # relayed as the upstream sent it
    assert sent.endswith(b"data: [DONE]\n\n")


async def test_only_the_usage_chunk_nobody_asked_for_is_left_out_not_a_frame_holding_its_bytes() -> None:
    """An OpenAI client that did not ask for usage gets the stream minus the usage chunk the gateway asked for.
    A frame that only holds that chunk's bytes (a compatible server's comment echoing it) is the client's: it was
    left out too while the drop searched each frame for the chunk's payload."""
    usage_chunk = openai_chunk({}, usage=USAGE)
    echo = b": " + orjson.dumps(usage_chunk) + b"\n\n"
    events: list[tuple[str | None, Any]] = [(None, openai_chunk({"role": "assistant", "content": "hi"}))]
    closing = sse([(None, openai_chunk({}, "stop")), (None, usage_chunk)]) + b"data: [DONE]\n\n"
    upstream_body = sse(events) + echo + closing
    gw = gateway([provider("up", "openai", key_env="UP_KEY")], {"m": [("up", "gpt-up")]})
    app = app_for(gw, Upstream().add("up.test", sse_reply(upstream_body)))
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json={"model": "m", "stream": True, "messages": HI})
    assert response.status_code == 200
    sent = response.content
    assert echo in sent
    assert b"data: " + orjson.dumps(usage_chunk) not in sent
    assert sent.endswith(b"data: [DONE]\n\n")


async def test_an_odd_usage_from_an_anthropic_compatible_host_is_relayed_and_the_stream_ends() -> None:
    odd = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": 1}
    odd_frame = b"event: message_delta\ndata: " + orjson.dumps(odd) + b"\n\n"
    upstream_body = anthropic_text_stream("hi").replace(b"event: message_stop", odd_frame + b"event: message_stop")
    gw = gateway([provider("claude", "anthropic", key_env="UP_KEY")], {"m": [("claude", "claude-up")]})
    app = app_for(gw, Upstream().add("claude.test", sse_reply(upstream_body)))
    async with asgi_client(app) as client:
        response = await client.post(
            "/anthropic/v1/messages", json={"model": "m", "max_tokens": 16, "stream": True, "messages": HI}
        )
    assert response.status_code == 200
    assert orjson.dumps(odd) in response.content  # relayed as the host sent it
    assert response.content.rstrip().endswith(b'{"type":"message_stop"}')


async def test_an_odd_event_type_on_a_relayed_responses_stream_is_relayed_and_the_stream_ends() -> None:
    odd = {"type": ["response.output_text.delta"], "delta": "x"}
    completed = {"type": "response.completed", "response": {"id": "r", "status": "completed", "output": 3}}
    upstream_body = sse([(None, odd), ("response.completed", completed)])
    gw = gateway([provider("up", "openai", key_env="UP_KEY")], {"m": [("up", "gpt-5-pro")]})
    app = app_for(gw, Upstream().add("up.test", sse_reply(upstream_body)))
    async with asgi_client(app) as client:
        response = await client.post(
            "/v1/responses", json={"model": "m", "input": "hi", "stream": True, "store": False}
        )
    assert response.status_code == 200
    assert orjson.dumps(odd) in response.content and orjson.dumps(completed) in response.content


_FUNCTION = st.fixed_dictionaries(
    {}, optional={"arguments": st.text(max_size=8) | st.none(), "name": st.text(max_size=4)}
)
_CALL = st.fixed_dictionaries({"index": st.integers(0, 3)}, optional={"function": _FUNCTION})
_DELTA = st.fixed_dictionaries(
    {},
    optional={
        "content": st.text(max_size=8) | st.none(),
        "reasoning_content": st.text(max_size=8),
        "refusal": st.text(max_size=4) | st.integers(-9, 9),
        "role": st.just("assistant"),
        "tool_calls": st.lists(_CALL, max_size=3),
    },
)


def _chars(delta: dict[str, Any]) -> int:
    """What a delta carries as output: text, reasoning and refusal strings, tool-call argument strings."""
    text = sum(len(delta[k]) for k in ("content", "reasoning_content", "refusal") if isinstance(delta.get(k), str))
    arguments = [c.get("function", {}).get("arguments") for c in delta.get("tool_calls") or []]
    return text + sum(len(a) for a in arguments if isinstance(a, str))


@given(st.lists(_DELTA, max_size=6), st.sampled_from([None, "stop", "tool_calls", "length"]), st.booleans())
def test_the_reader_counts_every_delta_and_reads_the_close(
    deltas: list[dict[str, Any]], finish: str | None, usage: bool
) -> None:
    chunks = [openai_chunk(d) for d in deltas] + [openai_chunk({}, finish)]
    if usage:
        chunks.append(openai_chunk({}, usage=USAGE))
    reader = OpenAIChat().relay_reader(Inbound({"stream_options": {"include_usage": True}}, {}, Endpoint("/v1")))
    stream = sse([(None, c) for c in chunks]) + b"data: [DONE]\n\n"
    assert reader.feed(stream) == stream
    tally = reader.tally
    assert tally.output_chars == sum(_chars(d) for d in deltas)
    assert tally.output_events == sum(1 for d in deltas if _chars(d))
    assert (
        tally.stop_reason == {None: None, "stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}[finish]
    )
    assert tally.final_usage is usage and tally.usage.output_tokens == (3 if usage else 0)
    assert tally.terminal


_DIALECTS: dict[str, Any] = {
    "anthropic": AnthropicMessages(), "openai": OpenAIChat(), "responses": OpenAIResponses(), "gemini": GeminiAPI()
}  # fmt: skip
_KEYS = [
    "type", "choices", "delta", "content", "tool_calls", "function", "arguments", "finish_reason", "usage",
    "x_groq", "message", "text", "thinking", "partial_json", "stop_reason", "input_tokens", "output_tokens",
    "prompt_tokens", "completion_tokens", "response", "candidates", "parts", "usageMetadata", "finishReason",
    "index", "prompt_tokens_details", "cached_tokens", "output", "item",
]  # fmt: skip
_EVENTS = [None, "message_start", "content_block_delta", "message_delta", "message_stop", "response.completed",
           "response.output_text.delta", "error"]  # fmt: skip
_TYPES = ["content_block_start", "text_delta", "thinking_delta", "input_json_delta", "response.incomplete",
          "response.failed", "function_call", "message", "STOP", "MAX_TOKENS", "end_turn", "tool_use"]  # fmt: skip
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from([e for e in _EVENTS if e] + _TYPES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=600)
@given(st.sampled_from(sorted(_DIALECTS)), st.lists(st.tuples(st.sampled_from(_EVENTS), _JSON), max_size=5))
def test_no_chunk_of_any_shape_stops_a_relay(dialect: str, chunks: list[tuple[str | None, Any]]) -> None:
    """Any JSON where a chunk belongs (the fields each reader looks at, holding any type): relayed, never raised."""
    asked = {"stream_options": {"include_usage": True}}  # an OpenAI client that did not gets the usage chunk dropped
    reader = _DIALECTS[dialect].relay_reader(Inbound(asked, {}, Endpoint("/v1")))
    stream = sse(chunks)
    assert reader.feed(stream) == stream


# --- the reader reads the events the SSE decoder reads, whatever the framing -------------------------------
_NAME = st.sampled_from(["message_start", "content_block_delta", "ping", "response.completed", "x"])
_DATA = st.one_of(
    _JSON.map(lambda value: orjson.dumps(value).decode()),
    st.sampled_from(["[DONE]", "", "not json", '{"choices":[],"usage":{"prompt_tokens":1}}']),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=6),
)
_LINE = st.one_of(
    st.builds(lambda d: f"data: {d}", _DATA),
    st.builds(lambda d: f"data:{d}", _DATA),  # no space after the colon
    st.builds(lambda n: f"event: {n}", _NAME),
    st.builds(lambda n: f"event:{n}", _NAME),
    st.sampled_from([": ping", ":", "id: 7", "retry: 10"]),
)
_FRAME = st.one_of(
    st.builds(lambda d: f"data: {d}", _DATA),  # the shapes upstreams send ...
    st.builds(lambda n, d: f"event: {n}\ndata: {d}", _NAME, _DATA),
    st.lists(_LINE, min_size=1, max_size=4).map("\n".join),  # ... and any other
    st.just(""),  # a blank line more
)


def _recording() -> tuple[list[tuple[str, Any]], Any]:
    seen: list[tuple[str, Any]] = []
    return seen, lambda event, data, tally: seen.append((event, data))


def _decoded(stream: bytes) -> list[tuple[str, Any]]:
    """What the SSE rules make of the stream: each event's name and its data, parsed when it is JSON."""
    events = []
    for event in SSEDecoder().feed(stream):
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            data = event.data
        events.append((event.event, data))
    return events


@settings(max_examples=400)
@given(
    st.lists(st.tuples(_FRAME, st.sampled_from(["\n\n", "\r\n\r\n"])), max_size=8),
    st.lists(st.integers(0, 7), max_size=3),
    st.lists(st.integers(1, 400), max_size=3),
    st.lists(st.integers(0, 30), max_size=3),
    st.booleans(),
)
def test_the_relay_reader_reads_what_the_sse_decoder_reads(
    frames: list[tuple[str, str]], cuts: list[int], mid_frame: list[int], after_line: list[int], dropping: bool
) -> None:
    """Read off the bytes or through the decoder (a CR, a frame of another shape, a read cut mid-frame), the
    reader sees the decoder's events, in order, and sends the stream minus exactly the frames it dropped."""
    pieces = [(frame + end).encode() for frame, end in frames]
    stream = b"".join(pieces)
    seen, record = _recording()
    drop = (lambda data: data == "[DONE]") if dropping else None
    reader = SSERelayReader(record, drop)
    bounds = sorted({sum(len(p) for p in pieces[:cut]) for cut in cuts if cut <= len(pieces)})
    if not dropping:  # the relay cuts reads at frame ends, all but a stream's last: any cut reads the same events
        line_ends = [i + 1 for i, byte in enumerate(stream[:-1]) if byte == ord("\n")]
        at_lines = [line_ends[i] for i in after_line if i < len(line_ends)]  # a frame's next line read alone
        bounds = sorted({*bounds, *at_lines, *(cut for cut in mid_frame if cut < len(stream))})
    sent = b"".join(reader.feed(stream[a:b]) for a, b in zip([0, *bounds], [*bounds, len(stream)], strict=True))
    assert seen == _decoded(stream)
    if not dropping:
        assert sent == stream
    else:
        kept = [p for p in pieces if not any(d == "[DONE]" for _, d in _decoded(p))]
        assert sent == b"".join(kept)
