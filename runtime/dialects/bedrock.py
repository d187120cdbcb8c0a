"""Amazon Bedrock's runtime API at /bedrock (what ``ANTHROPIC_BEDROCK_BASE_URL`` and botocore's
``bedrock-runtime`` with an ``endpoint_url`` call): ``model/{modelId}/converse`` and ``converse-stream``, and for
Claude ``invoke`` and ``invoke-with-response-stream``. The model id (``us.anthropic.claude-sonnet-4-5-…-v1:0``,
an alias, a tier) is resolved like any model string; streams are binary event streams. Always translated:
no adapter relays a Bedrock client's body (the Bedrock adapter re-signs what it builds).
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.dialects.base import Endpoint, EventEncoder, Inbound
from bifrostc.runtime.dialects.relay import NoRelay, RelayReader
from bifrostc.runtime.errors import GatewayError, InvalidRequest
from bifrostc.runtime.translate import anthropic, bedrock_inbound, bedrock_reply
from bifrostc.runtime.translate.eventstream import CONTENT_TYPE
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

    def passthrough(self, adapter: object, call: Inbound) -> bool:
        return False

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        return raw, None

    def relay_reader(self) -> RelayReader:
        return NoRelay()


class BedrockConverse(_Bedrock):
    name: str = "bedrock"
    log_endpoint: str = "converse"
    endpoints: tuple[Endpoint, ...] = (
        Endpoint(f"{PREFIX}/model/{{model:path}}/converse", stream=False),
        Endpoint(f"{PREFIX}/model/{{model:path}}/converse-stream", stream=True),
    )

    def parse(self, call: Inbound) -> ChatRequest:
        return bedrock_inbound.parse_converse(call.body, model=model_id(call), stream=bool(call.endpoint.stream))

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return bedrock_inbound.build_converse_response(response)

    def encoder(self, call: Inbound) -> EventEncoder:
        return bedrock_reply.ConverseStreamEncoder()


class BedrockInvoke(_Bedrock):
    name: str = "bedrock-invoke"
    log_endpoint: str = "invoke"
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
