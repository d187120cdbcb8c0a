"""OpenAI Responses at /v1/responses and /openai/v1/responses (Codex). Client side only: no adapter speaks it,
so it is always served through the canonical types, never relayed. Stateful: `handle_chat` resolves
`previous_response_id` and `item_reference` from `runtime/responses_store` before `parse`, and keeps a
`store: true` answer there."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.dialects.base import BodyDialect, Endpoint, EventEncoder, Inbound
from bifrostc.runtime.dialects.relay import NoRelay, RelayReader
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate import responses
from bifrostc.runtime.types import ChatRequest, ChatResponse


class OpenAIResponses(BodyDialect):
    name: str = "responses"
    log_endpoint: str = "responses"
    endpoints: tuple[Endpoint, ...] = (Endpoint("/v1/responses"), Endpoint("/openai/v1/responses"))
    error_prefixes: tuple[str, ...] = ()  # /v1 errors render in OpenAI's shape, which this dialect shares
    keepalive: bytes = b": ping\n\n"  # an SSE comment: the Responses stream has no ping event
    stateful: bool = True  # stored responses: see runtime/responses_store

    def parse(self, call: Inbound) -> ChatRequest:
        return responses.parse_request(call.body)

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return responses.build_response(response, request=call.body)  # a response repeats the request's settings

    def encoder(self, call: Inbound) -> EventEncoder:
        return responses.StreamEncoder(request=call.body)

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return responses.error_body(exc)

    def passthrough(self, adapter: object, call: Inbound) -> bool:
        return False

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        return raw, None

    def relay_reader(self) -> RelayReader:
        return NoRelay()
