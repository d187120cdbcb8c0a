"""OpenAI Responses at /v1/responses and /openai/v1/responses (Codex).

Stateful: `handle_chat` resolves `previous_response_id` and `item_reference` from `runtime/responses_store`
before `parse`, and keeps a `store: true` answer there. Served through the canonical types, or relayed unchanged
(passthrough) to an OpenAI-family adapter that calls the upstream model on the Responses API too (`api:
responses`, or a Responses-only model family), when the body needs nothing of the gateway's: `store: false`, no
`previous_response_id` (the resolved body keeps it), `conversation` or `item_reference`, and no reasoning item the
gateway wrapped (`stateless`)."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.dialects.base import BodyDialect, Endpoint, EventEncoder, Inbound, relabel_model, speaks
from bifrostc.runtime.dialects.base import upstream_api as api_of
from bifrostc.runtime.dialects.relay import RelayReader, SSERelayReader, Tally, merge_usage
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate import responses, responses_upstream
from bifrostc.runtime.translate.responses_request import REDACTED_MARK, SIGNATURE_MARK
from bifrostc.runtime.translate.responses_response import usage_from_responses
from bifrostc.runtime.types import ChatRequest, ChatResponse

_STATEFUL = ("previous_response_id", "conversation")
MARKS = (SIGNATURE_MARK, REDACTED_MARK)


class OpenAIResponses(BodyDialect):
    name: str = "responses"
    log_endpoint: str = "responses"
    endpoints: tuple[Endpoint, ...] = (Endpoint("/v1/responses"), Endpoint("/openai/v1/responses"))
    error_prefixes: tuple[str, ...] = ()  # /v1 errors render in OpenAI's shape, which this dialect shares
    keepalive: bytes = b": ping\n\n"  # an SSE comment: the Responses stream has no ping event
    stateful: bool = True  # stored responses: see runtime/responses_store
    history_key: str = "input"  # the conversation, which a relayed request keeps as JSON (relay_parse.py)

    def parse(self, call: Inbound) -> ChatRequest:
        return responses.parse_request(call.body)

    def split_history(self, messages: list[Any]) -> tuple[int, list[Any]] | None:
        """Where a relayed input's new turn starts: after the last item the parse places in an assistant turn
        (reasoning, calls and messages merge into one), with the leading system/developer messages kept."""
        return responses.split_input(messages)

    def tool_count(self, tools: object) -> int | None:
        """The canonical tools `parse` would make of the body's ``tools`` (a relayed request leaves them unparsed)."""
        return responses.tool_count(tools)

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return responses.build_response(response, request=call.body)  # a response repeats the request's settings

    def encoder(self, call: Inbound) -> EventEncoder:
        return responses.StreamEncoder(request=call.body)

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return responses.error_body(exc)

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        return speaks(adapter, "openai") and api_of(adapter, model) == "responses" and stateless(call.body)

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        return relabel_model(raw, model, responses_upstream.parse_response)

    def relay_reader(self, call: Inbound) -> RelayReader:
        return SSERelayReader(_read_relayed)


def stateless(body: dict[str, Any]) -> bool:
    """The body holds the whole conversation, asks nothing to be stored, and carries no reasoning the gateway
    wrapped (`bfc.` markers: another family's signature, or OpenAI's own inside one, which the canonical path
    unwraps or drops; relayed, the API would refuse it as unverifiable)."""
    if body.get("store") is not False or any(body.get(name) is not None for name in _STATEFUL):
        return False
    items = body.get("input")
    return not isinstance(items, list) or not any(isinstance(item, dict) and _needs_us(item) for item in items)


def _needs_us(item: dict[str, Any]) -> bool:
    encrypted = item.get("encrypted_content")
    return item.get("type") == "item_reference" or (isinstance(encrypted, str) and encrypted.startswith(MARKS))


_OUTPUT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
    }
)
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _read_relayed(event: str, data: Any, tally: Tally) -> None:
    """Output in `*.delta` events; usage and the stop once, in the terminal `response.*` event."""
    if not isinstance(data, dict):
        return
    kind = data.get("type")
    if not isinstance(kind, str):  # an upstream's odd chunk is relayed as sent, only not read
        return
    if kind in _OUTPUT_DELTAS and isinstance(data.get("delta"), str) and data["delta"]:
        tally.output_chars += len(data["delta"])
        tally.output_events += 1
    elif kind in _TERMINAL or kind == "error":
        tally.terminal = True
        response = data.get("response")
        if kind in ("response.completed", "response.incomplete") and isinstance(response, dict):
            output = response.get("output")
            items = output if isinstance(output, list) else []
            calls = any(isinstance(i, dict) and "call" in str(i.get("type")) for i in items)
            tally.stop_reason = responses_upstream.stop_reason(response, calls=calls)
            if isinstance(response.get("usage"), dict):
                merge_usage(tally.usage, usage_from_responses(response["usage"]))
                tally.final_usage = True
