"""Amazon Bedrock's runtime API at /bedrock (what ``ANTHROPIC_BEDROCK_BASE_URL`` and botocore's
``bedrock-runtime`` with an ``endpoint_url`` call): ``model/{modelId}/converse`` and ``converse-stream``, and for
Claude ``invoke`` and ``invoke-with-response-stream``. The model id (``us.anthropic.claude-sonnet-4-5-…-v1:0``,
an alias, a tier) is resolved like any model string; streams are binary event streams. A Converse request to
a Bedrock target passes through (the adapter re-signs the client's body); InvokeModel is always translated.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from bifrostc.runtime.dialects.base import Endpoint, EventEncoder, Inbound, speaks
from bifrostc.runtime.dialects.relay import NoRelay, RelayReader, Tally, merge_usage
from bifrostc.runtime.errors import GatewayError, InvalidRequest
from bifrostc.runtime.translate import anthropic, bedrock, bedrock_inbound, bedrock_reply
from bifrostc.runtime.translate.eventstream import CONTENT_TYPE, encode_frame, event_frame
from bifrostc.runtime.types import ChatRequest, ChatResponse

PREFIX = "/bedrock"


def model_id(call: Inbound) -> str:
    model = call.params.get("model", "")
    if not model:
        raise InvalidRequest("the URL names no model (model/{modelId}/converse)")
    return model


class _Bedrock:
    error_prefixes: tuple[str, ...] = (PREFIX,)
    stream_media_type: str = CONTENT_TYPE

    def requested_model(self, call: Inbound) -> str:
        return model_id(call)

    def session(self, call: Inbound) -> str | None:
        metadata = call.body.get("metadata")  # Claude Code's invoke body carries metadata.user_id
        user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
        return user_id if isinstance(user_id, str) and user_id else None

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return bedrock_inbound.error_body(exc)

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        return False

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        return raw, None

    def relay_reader(self, call: Inbound) -> RelayReader:
        return NoRelay()


class BedrockConverse(_Bedrock):
    name: str = "bedrock"
    log_endpoint: str = "converse"
    # During upstream silences: an event of a type ConverseStream does not define, which botocore skips.
    keepalive: bytes = encode_frame(
        {":event-type": "ping", ":content-type": "application/json", ":message-type": "event"}, b"{}"
    )
    endpoints: tuple[Endpoint, ...] = (
        Endpoint(f"{PREFIX}/model/{{model:path}}/converse", stream=False),
        Endpoint(f"{PREFIX}/model/{{model:path}}/converse-stream", stream=True),
    )
    relay_framing: str = "eventstream"  # relayed streams are AWS event streams, not SSE (handlers/chat.py)

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        return speaks(adapter, self.name)  # Bedrock -> Bedrock: the body as sent, re-signed by the adapter

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        try:  # a Converse answer names no model: nothing to put back, only usage to read
            return raw, bedrock.parse_response(orjson.loads(raw), model=model)
        except (orjson.JSONDecodeError, GatewayError, KeyError, TypeError, ValueError, AttributeError):
            return raw, None

    def relay_reader(self, call: Inbound) -> RelayReader:
        return EventStreamRelayReader()

    def parse(self, call: Inbound) -> ChatRequest:
        return bedrock_inbound.parse_converse(call.body, model=model_id(call), stream=bool(call.endpoint.stream))

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return bedrock_inbound.build_converse_response(response)

    def encoder(self, call: Inbound) -> EventEncoder:
        return bedrock_reply.ConverseStreamEncoder()


class BedrockInvoke(_Bedrock):
    name: str = "bedrock-invoke"
    log_endpoint: str = "invoke"
    keepalive: bytes = event_frame("chunk", {"bytes": base64.b64encode(b'{"type": "ping"}').decode()})  # Claude's ping
    endpoints: tuple[Endpoint, ...] = (
        Endpoint(f"{PREFIX}/model/{{model:path}}/invoke", stream=False),
        Endpoint(f"{PREFIX}/model/{{model:path}}/invoke-with-response-stream", stream=True),
    )
    error_prefixes: tuple[str, ...] = ()  # /bedrock errors render as BedrockConverse's: the same shape

    def parse(self, call: Inbound) -> ChatRequest:
        return bedrock_inbound.parse_invoke(call.body, model=model_id(call), stream=bool(call.endpoint.stream))

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return anthropic.build_response(response)

    def encoder(self, call: Inbound) -> EventEncoder:
        return bedrock_reply.InvokeStreamEncoder()


class EventStreamRelayReader:
    """Reads relayed ConverseStream frames: output from contentBlockDelta, usage from metadata (the last frame)."""

    def __init__(self) -> None:
        from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped, unused-ignore]  # bifrostc[aws]

        self._buffer = EventStreamBuffer()
        self.tally = Tally()

    def feed(self, chunk: bytes) -> bytes:
        self._buffer.add_data(chunk)
        for message in self._buffer:
            try:
                payload = orjson.loads(message.payload) if message.payload else {}
            except orjson.JSONDecodeError:
                continue
            read_frame(str(message.headers.get(":event-type", "")), payload, self.tally)
        return chunk


def read_frame(event_type: str, payload: Any, tally: Tally) -> None:
    if not isinstance(payload, dict):
        return
    if event_type == "contentBlockDelta":
        delta = payload.get("delta")
        if isinstance(delta, dict):
            for value in (
                delta.get("text"),
                (delta.get("toolUse") or {}).get("input"),
                (delta.get("reasoningContent") or {}).get("text"),
            ):
                if isinstance(value, str):
                    tally.output_chars += len(value)
    elif event_type == "metadata" and isinstance(payload.get("usage"), dict):
        merge_usage(tally.usage, bedrock.parse_usage(payload["usage"]))
        tally.final_usage = tally.terminal = True
