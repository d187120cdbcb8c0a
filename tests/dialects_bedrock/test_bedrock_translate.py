"""The Bedrock client-side translators (translate/bedrock_inbound.py, bedrock_reply.py, eventstream.py):
properties against the provider-side ones they mirror (translate/bedrock.py, bedrock_stream.py) and botocore's
event-stream decoder, and snapshots of translated payloads."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import anthropic, bedrock, bedrock_inbound, bedrock_reply, openai, replay
from bifrostc.runtime.translate.bedrock_stream import StreamParser
from bifrostc.runtime.types import ChatRequest, ChatResponse, TextPart, ToolCallPart, ToolResultPart
from tests.translate.conftest import load_fixture
from tests.translate.strategies import anthropic_requests, anthropic_responses, json_value
from tests.translate.streams import parse_openai_chunks
from tests.translate.test_tr_streams import REASONING_TEXT_AND_PARALLEL_TOOLS

CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def frames(data: bytes) -> list[tuple[dict[str, Any], Any]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), orjson.loads(m.payload)) for m in buffer]


def test_openai_stream_to_converse_stream_frames(snapshot: Any) -> None:
    encoder = bedrock_reply.ConverseStreamEncoder()
    data = b"".join(encoder.encode(ev) for ev in parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS))
    assert frames(data) == snapshot


def test_anthropic_message_to_converse_response(snapshot: Any) -> None:
    response = anthropic.parse_response(load_fixture("anthropic_message.json"))
    assert bedrock_inbound.build_converse_response(response) == snapshot


def test_claude_code_invoke_body_to_openai_upstream(snapshot: Any) -> None:
    body = {k: v for k, v in load_fixture("claude_code_request.json").items() if k not in ("model", "stream")}
    body |= {"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["context-1m-2025-08-07"]}
    request = bedrock_inbound.parse_invoke(body, model="sonnet", stream=True)
    assert openai.build_request(request, model="gpt-5") == snapshot


def _texts(request: ChatRequest) -> list[str]:
    return [p.text for m in request.messages for p in m.content if isinstance(p, TextPart) and p.text]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(anthropic_requests())
def test_a_converse_body_the_provider_side_builds_parses_back(request: ChatRequest) -> None:
    request.messages = [  # Converse takes only inline images; URL images are refused on the way out, by design
        m for m in request.messages if not any(getattr(p, "url", None) for p in _all_parts(m.content))
    ]
    texts = "".join(_texts(request))  # before building: the builder may drop what Claude would refuse
    body = orjson.loads(orjson.dumps(bedrock.build_request(request, model=CLAUDE)))
    parsed = bedrock_inbound.parse_converse(body, model="m", stream=request.stream)
    assert "".join(_texts(parsed)) == texts
    # Converse declares the tools a tool-less request's history calls (bedrock.build_request): a superset then.
    assert [t.name for t in parsed.tools][: len(request.tools)] == [t.name for t in request.tools]
    assert parsed.max_tokens == request.max_tokens and parsed.stop == request.stop
    calls = [
        (p.id, p.name, json.loads(p.arguments))
        for m in request.messages
        for p in m.content
        if isinstance(p, ToolCallPart)
    ]
    back = [
        (p.id, p.name, json.loads(p.arguments))
        for m in parsed.messages
        for p in m.content
        if isinstance(p, ToolCallPart)
    ]
    assert back == calls
    results = [p.tool_call_id for m in request.messages for p in m.content if isinstance(p, ToolResultPart)]
    assert [p.tool_call_id for m in parsed.messages for p in m.content if isinstance(p, ToolResultPart)] == results


def _all_parts(parts: list[Any]) -> list[Any]:
    return [*parts, *(item for p in parts if isinstance(p, ToolResultPart) for item in p.content)]


def _summary(response: ChatResponse) -> tuple[str, list[tuple[str, Any]]]:
    text = "".join(p.text for p in response.content if isinstance(p, TextPart))
    return text, [(p.name, json.loads(p.arguments or "{}")) for p in response.content if isinstance(p, ToolCallPart)]


@settings(max_examples=60)
@given(anthropic_responses())
def test_a_converse_response_reads_back_through_the_provider_side_parser(response: ChatResponse) -> None:
    back = bedrock.parse_response(bedrock_inbound.build_converse_response(response), model="m")
    assert _summary(back) == _summary(response)
    assert back.usage.output_tokens == response.usage.output_tokens
    assert back.usage.cache_read_tokens == response.usage.cache_read_tokens


@settings(max_examples=60)
@given(anthropic_responses())
def test_converse_stream_frames_decode_to_the_same_answer(response: ChatResponse) -> None:
    encoder = bedrock_reply.ConverseStreamEncoder()
    data = b"".join(encoder.encode(ev) for ev in replay.response_to_events(response))
    parser = StreamParser(model="m")
    events = [ev for headers, payload in frames(data) for ev in parser.feed(headers[":event-type"], payload)]
    events += parser.finish()
    text = "".join(e.text for e in events if getattr(e, "kind", None) == "text")
    assert text == _summary(response)[0]
    assert [e.name for e in events if getattr(e, "type", None) == "tool_use"] == [n for n, _ in _summary(response)[1]]


_block = st.dictionaries(
    st.sampled_from(["text", "toolUse", "toolResult", "image", "reasoningContent", "cachePoint"]),
    json_value,
    max_size=2,
)
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "x"]), "content": st.lists(_block, max_size=3) | json_value}
)
_bodies = st.fixed_dictionaries(
    {"messages": st.lists(_message, max_size=3) | json_value},
    optional={
        "system": json_value | st.lists(st.dictionaries(st.sampled_from(["text", "cachePoint"]), json_value)),
        "inferenceConfig": st.dictionaries(st.sampled_from(["maxTokens", "temperature", "stopSequences"]), json_value),
        "toolConfig": st.fixed_dictionaries({}, optional={"tools": json_value, "toolChoice": json_value}),
        "additionalModelRequestFields": json_value,
    },
)


@settings(max_examples=150)
@given(_bodies)
def test_bad_converse_input_is_an_invalid_request_never_a_crash(body: dict[str, Any]) -> None:
    try:
        bedrock_inbound.parse_converse(body, model="m", stream=False)
    except InvalidRequest as exc:
        assert bedrock_inbound.error_body(exc)["__type"] == "ValidationException"


def test_keepalives_are_frames_clients_skip() -> None:
    from bifrostc.runtime.dialects.bedrock import BedrockConverse, BedrockInvoke

    [(converse_headers, converse_payload)] = frames(BedrockConverse.keepalive)
    assert converse_headers[":event-type"] == "ping" and converse_payload == {}  # botocore skips unknown events
    [(_, invoke_payload)] = frames(BedrockInvoke.keepalive)
    assert json.loads(base64.b64decode(invoke_payload["bytes"])) == {"type": "ping"}  # Anthropic's own ping event
