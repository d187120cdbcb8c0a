"""The one upstream error mapper: every family's failures become the same `UpstreamError`.

Statuses are kept (connect failures 502, timeouts 504), retry-after is read from `retry-after-ms`, `retry-after`
(seconds or an HTTP date) or Google's `RetryInfo.retryDelay`, and a context overflow is worded the way Anthropic
words it (`prompt is too long: ...`), which is what Claude Code matches to compact, whatever family said it.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
import orjson

from bifrostc.runtime.errors import UpstreamError

OVERFLOW_PREFIX = "prompt is too long"
# How each family says "the prompt does not fit the context window" (lower-cased substrings of the message).
_OVERFLOW_PHRASES = (
    "maximum context length",  # OpenAI family, Azure
    "context_length_exceeded",
    "context window",
    "context length",
    "input token count",  # Gemini / Vertex: "The input token count (N) exceeds the maximum number of tokens..."
    "input is too long",  # Bedrock: "Input is too long for requested model."
    "too many input tokens",  # Bedrock Converse
    "too many tokens",  # Cohere: "too many tokens: total number of tokens in the prompt cannot exceed ..."
)
_DURATION = re.compile(r"^([0-9.]+)s$")


class ErrorReply(Protocol):
    """What the mapper reads from an upstream response: httpx.Response and http.UpstreamResponse both fit."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def aread(self) -> bytes: ...


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or HTTP date); None when absent."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, list) and data:
        data = data[0]  # Google sometimes wraps the error object in a list
    return data if isinstance(data, dict) else None


def upstream_message(body: bytes) -> str | None:
    """The human message inside an error body, in any family's shape (clients such as Claude Code match on it)."""
    data = _error_object(body)
    if data is None:
        return None
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    for key in ("message", "Message"):  # Cohere, Bedrock
        if isinstance(data.get(key), str):
            return str(data[key])
    if isinstance(error, str):
        return error
    return None


def google_retry_delay(body: bytes) -> float | None:
    """`retryDelay` from a google.rpc.RetryInfo error detail ("30s"), which Google sends instead of a header."""
    data = _error_object(body)
    error = data.get("error") if data else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        match = _DURATION.match(str(detail.get("retryDelay", ""))) if isinstance(detail, dict) else None
        if match:
            return float(match.group(1))
    return None


def overflow_worded(status: int, detail: str) -> str:
    """A 400 that says the prompt overflowed the context, in Anthropic's wording; anything else unchanged."""
    lowered = detail.lower()
    if status != 400 or lowered.startswith(OVERFLOW_PREFIX):
        return detail
    if OVERFLOW_PREFIX in lowered or any(phrase in lowered for phrase in _OVERFLOW_PHRASES):
        return f"{OVERFLOW_PREFIX}: {detail}"
    return detail


def upstream_error(
    provider: str, status: int, detail: str, *, retry_after: float | None = None, body: bytes | None = None
) -> UpstreamError:
    """The one constructor for an error an upstream answered (by status, in a 200 body or as a stream event)."""
    return UpstreamError(
        f"{provider} returned HTTP {status}: {overflow_worded(status, detail)}",
        status=status,
        provider=provider,
        retry_after=retry_after,
        body=body,
    )


async def error_from_response(response: ErrorReply, provider: str) -> UpstreamError:
    """Read an error response (streamed or not) into an UpstreamError keeping status, body and retry-after."""
    try:
        body = await response.aread()
    except httpx.TransportError as exc:
        return error_from_transport(exc, provider)
    detail = upstream_message(body) or body[:500].decode("utf-8", "replace").strip() or "(empty body)"
    kind = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]  # Bedrock names the exception here
    if kind and not detail.startswith(kind):
        detail = f"{kind}: {detail}"
    retry_after = parse_retry_after(response.headers)
    if retry_after is None:
        retry_after = google_retry_delay(body)
    return upstream_error(provider, response.status_code, detail, retry_after=retry_after, body=body)


def error_from_transport(exc: httpx.TransportError, provider: str) -> UpstreamError:
    """Connect failures and broken connections become 502, timeouts 504: both retryable."""
    status = 504 if isinstance(exc, httpx.TimeoutException) else 502
    return UpstreamError(f"{provider} unreachable ({type(exc).__name__}): {exc}", status=status, provider=provider)


def malformed(provider: str, what: str) -> UpstreamError:
    """An upstream 2xx whose body is not what its API documents (HTML, bad JSON, a bad frame): a 502."""
    return UpstreamError(f"{provider} sent {what}", status=502, provider=provider)
