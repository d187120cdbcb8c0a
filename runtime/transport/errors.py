"""The one upstream error mapper: every family's failures become the same `UpstreamError`.

Statuses are kept (connect failures 502, timeouts 504), retry-after is read from `retry-after-ms`, `retry-after`
(seconds or an HTTP date) or Google's `RetryInfo.retryDelay`, and `x-should-retry` is kept for the client.
What the client reads (Claude Code's gateway contract, "Errors"):

- an Anthropic error envelope (`{"type": "error", "error": {...}}`, whatever family sent it) reaches an
  Anthropic-dialect client unchanged, and its `error.message` an OpenAI-dialect one;
- a 400/413/422 in any other shape is worded the way Claude Code's recovery matches (`wording.client_wording`:
  `prompt is too long: N tokens > M maximum`, `Input is too long.`, `capability_rejected: <class>`), or keeps
  the upstream's own words;
- anything else reads `<provider> returned HTTP <status>: <words>`, which is also what the log records.
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
from bifrostc.runtime.transport.wording import client_wording

WORDED_STATUSES = frozenset({400, 413, 422})  # the statuses whose wording Claude Code's recovery reads
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


def anthropic_envelope(data: Any) -> dict[str, Any] | None:
    """`data` when it is Anthropic's error envelope: `{"type": "error", "error": {"type": str, "message": str}}`."""
    error = data.get("error") if isinstance(data, dict) and data.get("type") == "error" else None
    if isinstance(error, dict) and isinstance(error.get("type"), str) and isinstance(error.get("message"), str):
        return dict(data)
    return None


def should_retry_header(headers: Mapping[str, str]) -> bool | None:
    """The upstream's `x-should-retry` (true/false), None when absent or anything else."""
    value = (headers.get("x-should-retry") or "").strip().lower()
    return True if value == "true" else False if value == "false" else None


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


def upstream_error(
    provider: str,
    status: int,
    detail: str,
    *,
    retry_after: float | None = None,
    body: bytes | None = None,
    envelope: dict[str, Any] | None = None,
    should_retry: bool | None = None,
    kind: str = "",
) -> UpstreamError:
    """The one constructor for an error an upstream answered (by status, in a 200 body or as a stream event).

    `detail` is the upstream's message, `kind` the exception name some families send beside it (Bedrock's
    `x-amzn-errortype`), `envelope` the Anthropic error body when the upstream sent one."""
    words = f"{kind}: {detail}" if kind and not detail.startswith(kind) else detail
    logged = f"{provider} returned HTTP {status}: {words}"
    if status not in WORDED_STATUSES:
        message = logged
    elif envelope is not None:
        message = str(envelope["error"]["message"])
    else:
        message = client_wording(status, detail)
    return UpstreamError(
        message,
        status=status,
        provider=provider,
        retry_after=retry_after,
        body=body,
        detail=logged,
        envelope=envelope,
        should_retry=should_retry,
    )


async def error_from_response(response: ErrorReply, provider: str) -> UpstreamError:
    """Read an error response (streamed or not) into an UpstreamError keeping status, body and retry-after."""
    try:
        body = await response.aread()
    except httpx.TransportError as exc:
        return error_from_transport(exc, provider)
    detail = upstream_message(body) or body[:500].decode("utf-8", "replace").strip() or "(empty body)"
    kind = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]  # Bedrock names the exception here
    retry_after = parse_retry_after(response.headers)
    if retry_after is None:
        retry_after = google_retry_delay(body)
    return upstream_error(
        provider,
        response.status_code,
        detail,
        retry_after=retry_after,
        body=body,
        envelope=anthropic_envelope(_error_object(body)),
        should_retry=should_retry_header(response.headers),
        kind=kind,
    )


def error_from_transport(exc: httpx.TransportError, provider: str) -> UpstreamError:
    """Connect failures and broken connections become 502, timeouts 504: both retryable."""
    status = 504 if isinstance(exc, httpx.TimeoutException) else 502
    return UpstreamError(f"{provider} unreachable ({type(exc).__name__}): {exc}", status=status, provider=provider)


def malformed(provider: str, what: str) -> UpstreamError:
    """An upstream 2xx whose body is not what its API documents (HTML, bad JSON, a bad frame): a 502."""
    return UpstreamError(f"{provider} sent {what}", status=502, provider=provider)
