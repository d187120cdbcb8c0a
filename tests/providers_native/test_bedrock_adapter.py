from __future__ import annotations

import itertools
import json

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from bifrostc.runtime.errors import UpstreamError
from bifrostc.runtime.providers.bedrock import BedrockAdapter
from bifrostc.runtime.types import BlockDelta, BlockStart, MessageDelta, StreamError, StreamEvent

from .anthropic_client import final_message_via_sdk
from .bedrock_model import validation_errors
from .conftest import agent_request, make_provider, mock_client
from .eventstream import converse_stream, encode_frame, event_frame, exception_frame

ARGS = '{"path": "src/main.py", "limit": 20}'
MODEL_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Static credentials from the environment; no shared config files, no instance metadata."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def split_bytes(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


class ChunkedStream(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk


def stream_upstream(frames: list[bytes], cuts: list[int] | None = None, seen: list[httpx.Request] | None = None):
    data = b"".join(frames)

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        headers = {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "req-9"}
        return httpx.Response(200, stream=ChunkedStream(split_bytes(data, cuts or [7, 100, 333])), headers=headers)

    return handler


async def run_stream(handler, **options: str) -> list[StreamEvent]:
    adapter = BedrockAdapter(make_provider("bedrock", region="us-east-1", **options), mock_client(handler))
    return [e async for e in adapter.stream(agent_request(stream=True), model="claude-sonnet-4-5", api_key=None)]


def test_test_encoder_frames_decode_with_botocore() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(event_frame("messageStart", {"role": "assistant"}) + exception_frame("throttlingException", "x"))
    first, second = list(buffer)
    assert first.headers[":event-type"] == "messageStart" and json.loads(first.payload) == {"role": "assistant"}
    assert second.headers[":message-type"] == "exception" and second.headers[":exception-type"] == "throttlingException"


async def test_converse_stream_request_is_sigv4_signed_and_valid_for_the_service_model() -> None:
    seen: list[httpx.Request] = []
    await run_stream(stream_upstream(converse_stream(text="Hi", tool_args_chunks=[ARGS]), seen=seen))
    request = seen[0]
    assert request.url.host == "bedrock-runtime.us-east-1.amazonaws.com"
    assert request.url.raw_path.decode() == MODEL_PATH + "/converse-stream"
    assert validation_errors("ConverseStream", "m", json.loads(request.content)) == ""
    authorization = request.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/bedrock/aws4_request" in authorization
    assert request.headers["x-amz-security-token"] == "session-token"
    assert authorization.split("Signature=")[1] == recompute_signature(request)


def recompute_signature(request: httpx.Request) -> str:
    """Sign the received request again with botocore, at its own timestamp, and return the signature."""
    signed = authorization_field(request.headers["authorization"], "SignedHeaders").split(";")
    headers = {name: request.headers[name] for name in signed if name != "host"}
    aws_request = AWSRequest(method=request.method, url=str(request.url), data=request.content, headers=headers)
    aws_request.context["timestamp"] = request.headers["x-amz-date"]
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    auth = SigV4Auth(credentials, "bedrock", "us-east-1")
    return auth.signature(auth.string_to_sign(aws_request, auth.canonical_request(aws_request)), aws_request)


def authorization_field(value: str, name: str) -> str:
    fields = dict(part.strip().split("=", 1) for part in value.split(" ", 1)[1].split(","))
    return fields[name]


async def test_bearer_api_key_replaces_sigv4() -> None:
    seen: list[httpx.Request] = []
    adapter = BedrockAdapter(
        make_provider("bedrock", region="us-east-1"),
        mock_client(stream_upstream(converse_stream(text="x", tool_args_chunks=["{}"]), seen=seen)),
    )
    _ = [e async for e in adapter.stream(agent_request(), model="claude-sonnet-4-5", api_key="bedrock-api-key")]
    assert seen[0].headers["authorization"] == "Bearer bedrock-api-key"
    assert "x-amz-date" not in seen[0].headers


async def test_streamed_tool_call_reaches_anthropic_clients_intact() -> None:
    frames = converse_stream(
        text="Let me read it.", tool_args_chunks=[ARGS[:5], ARGS[5:17], ARGS[17:]], reasoning="Plan"
    )
    events = await run_stream(stream_upstream(frames))
    tool_start = next(e for e in events if isinstance(e, BlockStart) and e.type == "tool_use")
    assert (tool_start.id, tool_start.name) == ("tooluse_abc", "read_file")
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert delta.stop_reason == "tool_use" and delta.usage.cache_read_tokens == 5
    message = final_message_via_sdk(events)
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[0].signature == "U0lH"
    assert message.content[2].input == json.loads(ARGS)
    assert message.stop_reason == "tool_use" and message.usage.output_tokens == 34


@settings(max_examples=40, deadline=None)
@given(
    split_at=st.lists(st.integers(min_value=0, max_value=len(ARGS)), max_size=8),
    byte_cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
)
async def test_tool_arguments_survive_any_chunking(split_at: list[int], byte_cuts: list[int]) -> None:
    points = sorted({0, len(ARGS), *split_at})
    chunks = [ARGS[a:b] for a, b in itertools.pairwise(points)]
    events = await run_stream(stream_upstream(converse_stream(text="t", tool_args_chunks=chunks), cuts=byte_cuts))
    arguments = "".join(e.text for e in events if isinstance(e, BlockDelta) and e.kind == "arguments")
    assert arguments == ARGS


async def test_send_parses_converse_response() -> None:
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": "done"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3},
        "metrics": {"latencyMs": 5},
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body, headers={"x-amzn-requestid": "rid"})

    adapter = BedrockAdapter(make_provider("bedrock", region="eu-west-1"), mock_client(handler))
    response = await adapter.send(agent_request(), model="claude-haiku-4-5", api_key=None)
    assert seen[0].url.raw_path.decode().endswith("/model/eu.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse")
    assert validation_errors("Converse", "m", json.loads(seen[0].content)) == ""
    assert response.content[0].text == "done" and response.id == "msg_rid"


async def test_throttling_maps_to_retryable_429() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
        return httpx.Response(429, json={"message": "Too many requests, please wait."}, headers=headers)

    with pytest.raises(UpstreamError) as caught:
        await run_stream(handler)
    assert caught.value.status == 429 and caught.value.retryable
    assert "ThrottlingException: Too many requests" in caught.value.message


async def test_service_unavailable_maps_to_503() -> None:
    with pytest.raises(UpstreamError) as caught:
        await run_stream(lambda _: httpx.Response(503, json={"message": "Service unavailable"}))
    assert caught.value.status == 503 and caught.value.retryable


async def test_exception_frame_before_any_event_is_raised() -> None:
    with pytest.raises(UpstreamError) as caught:
        await run_stream(stream_upstream([exception_frame("throttlingException", "slow down")]))
    assert caught.value.status == 429


async def test_exception_frame_mid_stream_becomes_stream_error() -> None:
    frames = converse_stream(text="partial", tool_args_chunks=["{}"])[:3]
    events = await run_stream(stream_upstream([*frames, exception_frame("modelStreamErrorException", "boom")]))
    assert events[-1] == StreamError(type="api_error", message="boom", status=424)


async def test_corrupt_frame_mid_stream_becomes_stream_error() -> None:
    good = converse_stream(text="partial", tool_args_chunks=["{}"])[:2]
    bad = bytearray(encode_frame({":event-type": "contentBlockDelta", ":message-type": "event"}, b"{}"))
    bad[-1] ^= 0xFF
    events = await run_stream(stream_upstream([*good, bytes(bad)]))
    assert isinstance(events[-1], StreamError) and events[-1].status == 502
