"""What the OpenAI relay reader reads off a passthrough stream (the bill's fallback count, the stop reason, usage),
on any chunk an OpenAI-compatible server may send: odd shapes are relayed as they came and only skipped."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from rt_fakes import Upstream, app_for, asgi_client, gateway, openai_chunk, provider, sse, sse_reply

from bifrostc.runtime.dialects import Inbound
from bifrostc.runtime.dialects.base import Endpoint
from bifrostc.runtime.dialects.openai_chat import OpenAIChat

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
