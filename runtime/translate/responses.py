"""OpenAI Responses API dialect, client side: requests, responses, streams and errors. Pure, no I/O.

The upstream side (canonical -> a Responses request, an upstream's response and events -> canonical) is
``responses_upstream`` / ``responses_upstream_stream``, built on the same item readers and writers. Stored state
(``previous_response_id``, ``item_reference`` items) is resolved before ``parse_request`` by
``runtime/responses_store``; an ``item_reference`` still in the input, and ``conversation``, are refused.
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate.responses_request import parse_request, split_input
from bifrostc.runtime.translate.responses_response import build_response, usage_to_responses
from bifrostc.runtime.translate.responses_stream import StreamEncoder
from bifrostc.runtime.translate.responses_tools import tool_count

__all__ = [
    "StreamEncoder",
    "build_response",
    "error_body",
    "parse_request",
    "split_input",
    "tool_count",
    "usage_to_responses",
]


def error_body(exc: GatewayError) -> dict[str, Any]:
    """Errors use OpenAI's shape, as on every /v1 endpoint."""
    return {
        "error": {"message": exc.message, "type": exc.openai_type, "param": exc.openai_param, "code": exc.openai_code}
    }
