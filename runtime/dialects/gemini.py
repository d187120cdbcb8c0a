"""The Gemini API at /genai/v1beta (and /v1beta, the layout a ``GOOGLE_GEMINI_BASE_URL`` client expects):
``models/{model}:generateContent`` and ``:streamGenerateContent`` (the Gemini CLI, google-genai).

The model and the stream flag live in the URL; ``?alt=sse`` picks SSE framing (else one JSON array). A target
whose adapter speaks Gemini (``providers/gemini.py``) is sent the client's own body (passthrough).
"""

from __future__ import annotations

from typing import Any

import orjson

from bifrostc.runtime.dialects.base import Endpoint, EventEncoder, Inbound, speaks
from bifrostc.runtime.dialects.relay import RelayReader, SSERelayReader, Tally, merge_usage
from bifrostc.runtime.errors import GatewayError, InvalidRequest
from bifrostc.runtime.translate import gemini, gemini_inbound, gemini_reply
from bifrostc.runtime.types import ChatRequest, ChatResponse

PREFIXES = ("/genai/v1beta", "/genai/v1", "/v1beta")  # every Gemini endpoint; the model lists too
# google-genai with a base URL of its own asks for /v1 by default: generation and countTokens there too (GET
# /v1/models is OpenAI's list).
CALL_PREFIXES = (*PREFIXES, "/v1")
MODEL_LISTS = frozenset(f"{prefix}/models" for prefix in PREFIXES)  # key-gated like the others (security.py)


def _endpoints() -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(f"{prefix}/models/{{model:path}}:{method}", stream=stream)
        for prefix in CALL_PREFIXES
        for method, stream in (("generateContent", False), ("streamGenerateContent", True))
    )


def wants_sse(call: Inbound) -> bool:
    return call.query.get("alt", "") == "sse"


def model_in_path(call: Inbound) -> str:
    model = call.params.get("model", "").removeprefix("models/")
    if not model:
        raise InvalidRequest("the URL names no model (models/{model}:generateContent)")
    return model


class GeminiAPI:
    name: str = "gemini"
    log_endpoint: str = "generate"
    endpoints: tuple[Endpoint, ...] = _endpoints()
    error_prefixes: tuple[str, ...] = ("/genai", "/v1beta")
    # What a stream sends during upstream silences (the `keepalive` of main's ClientDialect): a blank line is
    # nothing to an SSE parser and whitespace between the elements of the JSON-array framing.
    keepalive: bytes = b"\r\n"

    def requested_model(self, call: Inbound) -> str:
        return model_in_path(call)

    def parse(self, call: Inbound) -> ChatRequest:
        return gemini_inbound.parse_request(call.body, model=model_in_path(call), stream=bool(call.endpoint.stream))

    def session(self, call: Inbound) -> str | None:
        return None  # a generateContent body names no conversation

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]:
        return gemini_reply.build_response(response)

    def encoder(self, call: Inbound) -> EventEncoder:
        return gemini_reply.StreamEncoder(sse=wants_sse(call))

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return gemini_reply.error_body(exc)

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        # A relayed stream is SSE: a client asking for the JSON-array framing is served through the translators.
        return speaks(adapter, self.name) and (not call.endpoint.stream or wants_sse(call))

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        try:
            data = orjson.loads(raw)
            parsed = gemini.parse_response(data, model=model)
        except (orjson.JSONDecodeError, GatewayError, KeyError, TypeError, ValueError, AttributeError, IndexError):
            return raw, None
        data["modelVersion"] = parsed.model = model
        return orjson.dumps(data), parsed

    def relay_reader(self, call: Inbound) -> RelayReader:
        return SSERelayReader(_read_relayed)


def _read_relayed(event: str, data: Any, tally: Tally) -> None:
    """Every chunk is a GenerateContentResponse: usage is cumulative, the one with finishReason is the last."""
    if not isinstance(data, dict):
        return
    candidates = data.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    if not isinstance(candidate, dict):
        return
    content = candidate.get("content")
    for part in (content.get("parts") if isinstance(content, dict) else None) or ():
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                tally.output_chars += len(part["text"])
            elif isinstance(part.get("functionCall"), dict):
                tally.output_chars += len(orjson.dumps(part["functionCall"].get("args") or {}))
    if isinstance(data.get("usageMetadata"), dict):
        merge_usage(tally.usage, gemini.parse_usage(data["usageMetadata"]))
    if candidate.get("finishReason"):
        tally.final_usage = tally.terminal = True
