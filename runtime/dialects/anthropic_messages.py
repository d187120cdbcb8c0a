"""Anthropic Messages at /anthropic/v1/messages (Claude Code, the anthropic SDKs)."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.dialects.base import BodyDialect, Endpoint, EventEncoder, Inbound, relabel_model, speaks
from bifrostc.runtime.dialects.relay import RelayReader, SSERelayReader, Tally, merge_usage
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate import anthropic
from bifrostc.runtime.translate.anthropic_stream import usage_from_anthropic
from bifrostc.runtime.translate.common import split_at_new_turn, stop_from_anthropic
from bifrostc.runtime.types import ChatRequest, ChatResponse


class AnthropicMessages(BodyDialect):
    name: str = "anthropic"
    log_endpoint: str = "messages"
    endpoints: tuple[Endpoint, ...] = (Endpoint("/anthropic/v1/messages"),)
    error_prefixes: tuple[str, ...] = ("/anthropic",)
    keepalive: bytes = b'event: ping\ndata: {"type": "ping"}\n\n'  # the Messages API's own ping event
    history_key: str = "messages"  # the conversation, which a relayed request keeps as JSON (relay_parse.py)

    def split_history(self, messages: list[Any]) -> tuple[int, list[Any]] | None:
        """Where a relayed conversation's new turn starts (relay_parse.py): after its last assistant message."""
        return split_at_new_turn(messages)

    def parse(self, call: Inbound) -> ChatRequest:
        return anthropic.parse_request(call.body)

    def tool_count(self, tools: object) -> int | None:
        """The canonical tools `parse` would make of the body's ``tools`` (a relayed request leaves them unparsed)."""
        return anthropic.tool_count(tools)

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return anthropic.build_response(response)

    def encoder(self, call: Inbound) -> EventEncoder:
        return anthropic.StreamEncoder()

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return anthropic.error_body(exc)

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        return speaks(adapter, self.name)

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        return relabel_model(raw, model, anthropic.parse_response)

    def relay_reader(self, call: Inbound) -> RelayReader:
        return SSERelayReader(_read_relayed)


def _read_relayed(event: str, data: Any, tally: Tally) -> None:
    """message_start carries the prompt's usage, message_delta the closing usage, content_block_delta output."""
    if not isinstance(data, dict):
        return
    kind = data.get("type", event)
    if kind == "content_block_delta":
        delta = data.get("delta")
        if isinstance(delta, dict):
            for key in ("text", "thinking", "partial_json"):
                if isinstance(delta.get(key), str) and delta[key]:
                    tally.output_chars += len(delta[key])
                    tally.output_events += 1
    elif kind == "message_start" and isinstance(data.get("message"), dict):
        merge_usage(tally.usage, usage_from_anthropic(data["message"].get("usage")))
    elif kind == "message_delta":
        merge_usage(tally.usage, usage_from_anthropic(data.get("usage")))
        tally.final_usage = True
        delta = data.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            tally.stop_reason = stop_from_anthropic(delta["stop_reason"])
    elif kind == "message_stop":
        tally.terminal = True
