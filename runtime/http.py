"""HTTP plumbing shared by the adapters: the pooled client, timeouts, SSE reading and error mapping."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator

import httpx
import orjson

from bifrostc.runtime import config
from bifrostc.runtime.errors import UpstreamError

POOL_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=60.0)


class _NoCookies(httpx.Cookies):
    """A gateway must not keep upstream cookies: they would be replayed for every tenant. Skipping the jar
    also saves the per-response cookie parsing httpx otherwise does."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def build_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The one shared client; per-request timeouts come from each provider's Network."""
    client = httpx.AsyncClient(
        transport=transport,
        limits=POOL_LIMITS,
        timeout=httpx.Timeout(600.0, connect=10.0),
        http1=True,
        follow_redirects=False,
    )
    client._cookies = _NoCookies()  # httpx has no public switch for this; the attribute is stable since 0.18
    return client


def timeout_for(network: config.Network) -> httpx.Timeout:
    return httpx.Timeout(
        connect=network.connect_timeout,
        read=network.read_timeout,
        write=network.read_timeout,
        pool=network.connect_timeout,
    )


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def parse_retry_after(headers: httpx.Headers) -> float | None:
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


def upstream_message(body: bytes) -> str | None:
    """The human message inside an Anthropic/OpenAI-style error body (clients such as Claude Code match on it)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return None


def _is_context_overflow(detail: str, body: bytes) -> bool:
    lowered = detail.lower()
    if "prompt is too long" in lowered:
        return False
    return b"context_length_exceeded" in body or "maximum context length" in lowered or "context window" in lowered


async def error_from_response(response: httpx.Response, provider: str) -> UpstreamError:
    """Read an error response (streamed or not) into an UpstreamError keeping status, body and retry-after."""
    body = await response.aread()
    detail = upstream_message(body) or body[:500].decode("utf-8", "replace")
    if response.status_code == 400 and _is_context_overflow(detail, body):
        # Anthropic's wording: Claude Code matches it to trigger compaction, whatever the upstream said.
        detail = f"prompt is too long: {detail}"
    return UpstreamError(
        f"{provider} returned HTTP {response.status_code}: {detail}",
        status=response.status_code,
        provider=provider,
        retry_after=parse_retry_after(response.headers),
        body=body,
    )


def error_from_transport(exc: httpx.TransportError, provider: str) -> UpstreamError:
    """Connect failures become 502, timeouts 504: both retryable."""
    status = 504 if isinstance(exc, httpx.TimeoutException) else 502
    kind = type(exc).__name__
    return UpstreamError(f"{provider} unreachable ({kind}): {exc}", status=status, provider=provider)


async def iter_sse(response: httpx.Response) -> AsyncIterator[tuple[str | None, str]]:
    """Yield (event, data) pairs from a text/event-stream body, per the WHATWG framing rules."""
    event: str | None = None
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield event, "\n".join(data)
