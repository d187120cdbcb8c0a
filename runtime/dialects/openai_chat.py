"""OpenAI Chat Completions at /v1/chat/completions and /openai/v1/chat/completions."""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.dialects.base import (
    BodyDialect,
    Endpoint,
    EventEncoder,
    Inbound,
    relabel_model,
    speaks,
    upstream_api,
)
from bifrostc.runtime.dialects.relay import RelayReader, SSERelayReader, Tally, merge_usage
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate import openai
from bifrostc.runtime.translate.common import split_at_new_turn, stop_from_openai
from bifrostc.runtime.translate.openai_usage import chunk_usage
from bifrostc.runtime.types import ChatRequest, ChatResponse


class OpenAIChat(BodyDialect):
    name: str = "openai"
    log_endpoint: str = "chat"
    endpoints: tuple[Endpoint, ...] = (Endpoint("/v1/chat/completions"), Endpoint("/openai/v1/chat/completions"))
    error_prefixes: tuple[str, ...] = ("/v1", "/openai")
    keepalive: bytes = b": ping\n\n"  # an SSE comment: every OpenAI client's parser skips it
    history_key: str = "messages"  # the conversation, which a relayed request keeps as JSON (relay_parse.py)

    def split_history(self, messages: list[Any]) -> tuple[int, list[Any]] | None:
        """Where a relayed conversation's new turn starts (relay_parse.py): after its last assistant message."""
        return split_at_new_turn(messages)

    def parse(self, call: Inbound) -> ChatRequest:
        return openai.parse_request(call.body)

    def tool_count(self, tools: object) -> int | None:
        """The canonical tools `parse` would make of the body's ``tools`` (a relayed request leaves them unparsed)."""
        return openai.tool_count(tools)

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return openai.build_response(response)

    def encoder(self, call: Inbound) -> EventEncoder:
        # The trailing usage chunk only for clients that asked for it (a replay from the cache too).
        return openai.StreamEncoder(include_usage=openai.wants_usage(call.body))

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return openai.error_body(exc)

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        # A model served by the Responses API gets a translated body. A stream whose client did not ask for usage
        # is relayed too: the adapter asks for it (`providers/openai.passthrough`), `relay_reader` drops it.
        return speaks(adapter, self.name) and upstream_api(adapter, model) == "chat"

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        return relabel_model(raw, model, openai.parse_response)

    def relay_reader(self, call: Inbound) -> RelayReader:
        return SSERelayReader(_read_relayed, drop=None if openai.wants_usage(call.body) else _usage_only)


def _usage_only(data: Any) -> bool:
    """The closing usage chunk include_usage adds (`choices` empty): what a client that did not ask never gets.
    A chunk that carries usage beside its choices (some compatible servers) is sent, usage and all."""
    return isinstance(data, dict) and data.get("choices") == [] and isinstance(data.get("usage"), dict)


_OUTPUT_KEYS = frozenset(("content", "reasoning_content", "reasoning", "refusal"))  # delta fields that are output


def _read_relayed(event: str, data: Any, tally: Tally) -> None:
    """Chunks carry output in choices[0].delta; usage comes once, in the closing chunk; `[DONE]` ends it.
    One pass over each delta's fields (runs for every relayed chunk); a chunk of another shape is only skipped."""
    if not isinstance(data, dict):
        tally.terminal = tally.terminal or data == "[DONE]"
        return
    choices = data.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    if isinstance(first, dict):
        delta = first.get("delta")
        if isinstance(delta, dict):
            chars = 0
            for key, value in delta.items():
                if key in _OUTPUT_KEYS:
                    if isinstance(value, str):
                        chars += len(value)
                elif key == "tool_calls" and isinstance(value, list):
                    for call in value:
                        function = call.get("function") if isinstance(call, dict) else None
                        arguments = function.get("arguments") if isinstance(function, dict) else None
                        if isinstance(arguments, str):
                            chars += len(arguments)
            if chars:
                tally.output_chars += chars
                tally.output_events += 1
        finish = first.get("finish_reason")
        if isinstance(finish, str):
            tally.stop_reason = stop_from_openai(finish)
    usage = chunk_usage(data)
    if usage is not None:
        merge_usage(tally.usage, openai.usage_from_openai(usage))
        tally.final_usage = True
