"""HTTP plumbing shared by the adapters: the pooled client, timeouts, SSE reading and error mapping.

Adapters see an `httpx.AsyncClient` (tests inject an `httpx.MockTransport`), but in production its transport is
`AiohttpTransport`: httpcore 1.0's pool spends most of the gateway's CPU under concurrency (encode/httpcore#1035)
while aiohttp's pool stays flat. Measured in-process at 32 concurrent POSTs to bench/fake_upstream.py:
httpx+httpcore 1,330 µs CPU/request, httpx2 600, httpx on aiohttp 244, aiohttp alone 72. The hot path
(`post_upstream`) therefore talks to aiohttp natively and returns an `UpstreamResponse`, which offers the part of
httpx.Response the adapters use; other adapters keep the full httpx client API on the same pool.
"""

from __future__ import annotations

import codecs
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from types import SimpleNamespace

import aiohttp
import httpx
import yarl
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from bifrostc.runtime import config
from bifrostc.runtime.context import current_request_id

# Connections per provider pool come from `network.max_connections` (a stream holds one until it ends, so a fixed
# cap would throttle long streams: 512 / 1.18 s streams = 433 streams/s); this default is for the other pool.
DEFAULT_MAX_CONNECTIONS = 4096
KEEPALIVE_SECONDS = 60.0
POOL_LIMITS = httpx.Limits(
    max_connections=DEFAULT_MAX_CONNECTIONS, max_keepalive_connections=None, keepalive_expiry=KEEPALIVE_SECONDS
)
PoolWaitObserver = Callable[[str, float], None]  # (provider, seconds a request waited for a free connection)
DEFAULT_POOL = ""  # the pool of requests that name no provider (the httpx client API, probes)
MAX_HEADER_BYTES = 65536  # aiohttp's default (8190) is below h11's; providers' headers stay well under this

# Most specific first: aiohttp's timeout classes are also connection errors.
_AIOHTTP_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.TimeoutException),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
)


@contextmanager
def _mapped_errors(request: httpx.Request | None) -> Iterator[None]:
    """aiohttp failures as the httpx TransportError subclasses every adapter already handles."""
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        for source, target in _AIOHTTP_ERRORS:
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__, request=request) from exc
        raise


class _AiohttpBody(httpx.AsyncByteStream):
    """An aiohttp response body as an httpx stream; closing it returns the connection to the pool (or drops it
    when the body was not read to the end)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_errors(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class UpstreamResponse:
    """An upstream response straight over aiohttp: the part of httpx.Response the adapters use (status_code,
    headers, aread, aiter_bytes, aiter_lines, aclose) without building httpx models, which cost ~90 µs a request.
    Bodies arrive decoded (aiohttp undoes content-encoding); failures raise httpx TransportErrors."""

    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code = response.status
        self.headers = response.headers  # case-insensitive, like httpx.Headers

    async def aread(self) -> bytes:
        with _mapped_errors(None):
            return await self._response.read()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        with _mapped_errors(None):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Lines without their \n or \r\n ending (SSE framing; bare \r endings are not used by providers)."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        async for chunk in self.aiter_bytes():
            lines = (pending + decoder.decode(chunk)).split("\n")
            pending = lines.pop()
            for line in lines:
                yield line.removesuffix("\r")
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending.removesuffix("\r")

    async def aclose(self) -> None:
        self._response.release()  # back to the pool when read to the end, otherwise the connection is dropped


class _PoolConnector(aiohttp.TCPConnector):
    """aiohttp's pool, never handing out a pooled connection that still carries the previous response's state.

    aiohttp (3.14) can re-arm a connection's sock_read timer after the connection went back to the pool: when a
    slow reader resumes a paused parser whose pending bytes end the body, that EOF releases the connection inside
    `ResponseHandler.resume_reading`, which then restarts the timer. It fires on the idle connection and stores a
    SocketTimeoutError, and the connector reuses any connected protocol, so the next request on it failed at once
    (a 504 ReadTimeout in ~1 ms that never reached the upstream: issue 10 item 13). A timer on an idle connection
    is stale, so it is cancelled; a connection holding an error is closed instead of reused."""

    async def _get(self, key: ConnectionKey, traces: list[Trace]) -> Connection | None:
        while (connection := await super()._get(key, traces)) is not None:
            protocol = connection.protocol
            if protocol is None or protocol.should_close:  # should_close covers a stored exception
                connection.close()
                continue
            protocol._drop_timeout()  # the new request arms its own when its body is sent
            return connection
        return None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """aiohttp's connection pool, as an httpx transport (for adapters using the httpx client API) and through
    `post` (the hot path, see `post_upstream`). Cookies are never stored (they would be replayed for every
    tenant); HTTP(S)_PROXY/NO_PROXY from the environment are honoured, read once (aiohttp's trust_env re-reads
    the environment and ~/.netrc on every request)."""

    def __init__(self, limits: httpx.Limits = POOL_LIMITS, proxies: dict[str, str] | None = None) -> None:
        self._limits = limits
        self._sessions: dict[str, aiohttp.ClientSession] = {}  # one pool per provider, sized by its network
        self.pool_wait_observers: list[PoolWaitObserver] = []  # e.g. the bifrostc_upstream_pool_wait_seconds metric
        self._proxies = urllib.request.getproxies_environment() if proxies is None else proxies
        self._proxy_by_origin: dict[tuple[str, str, int | None], str | None] = {}
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy URL for this request's origin from the environment's proxy settings, or None."""
        if not self._proxies:
            return None
        origin = (url.scheme, url.host, url.port)
        if origin not in self._proxy_by_origin:
            proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
            bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # public, not in typeshed
            if proxy and bypass(url.host, self._proxies):
                proxy = None
            self._proxy_by_origin[origin] = proxy
        return self._proxy_by_origin[origin]

    def _session_now(self, pool: str = DEFAULT_POOL, limit: int | None = None) -> aiohttp.ClientSession:
        # Created on first use: aiohttp binds the session to the running event loop.
        session = self._sessions.get(pool)
        if session is None or session.closed:
            connector = _PoolConnector(
                limit=limit if limit is not None else (self._limits.max_connections or 0),
                limit_per_host=0,
                keepalive_timeout=self._limits.keepalive_expiry or 0,
                ssl=httpx.create_ssl_context(),  # same CA bundle (certifi, SSL_CERT_FILE/DIR) as httpx used
            )
            session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                skip_auto_headers=("User-Agent", "Content-Type"),  # send what the request says, as httpx does
                max_line_size=MAX_HEADER_BYTES,
                max_field_size=MAX_HEADER_BYTES,
                trace_configs=[self._pool_trace(pool)],
            )
            self._sessions[pool] = session
        return session

    def _pool_trace(self, pool: str) -> aiohttp.TraceConfig:
        """aiohttp signals when a request queues for a connection (the pool is at its limit) and when it gets one."""
        trace = aiohttp.TraceConfig()
        observers = self.pool_wait_observers

        async def queued(_: aiohttp.ClientSession, context: SimpleNamespace, __: object) -> None:
            context.pool_wait_start = time.perf_counter()

        async def dequeued(_: aiohttp.ClientSession, context: SimpleNamespace, __: object) -> None:
            start = getattr(context, "pool_wait_start", None)
            if start is not None:
                waited = time.perf_counter() - start
                for observe in observers:
                    observe(pool, waited)

        trace.on_connection_queued_start.append(queued)
        trace.on_connection_queued_end.append(dequeued)
        return trace

    def _timeout(self, timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
        key = (timeout.get("pool"), timeout.get("connect"), timeout.get("read"))
        found = self._timeouts.get(key)
        if found is None:
            found = aiohttp.ClientTimeout(total=None, connect=key[0], sock_connect=key[1], sock_read=key[2])
            self._timeouts[key] = found
        return found

    async def post(
        self,
        url: httpx.URL,
        content: bytes,
        headers: Mapping[str, str],
        timeout: Mapping[str, float | None],
        pool: tuple[str, int] | None = None,
    ) -> UpstreamResponse:
        """`pool`: (provider name, its max_connections); None: the default pool."""
        session = self._session_now(*pool) if pool is not None else self._session_now()
        with _mapped_errors(None):
            response = await session.request(
                "POST",
                yarl.URL(str(url), encoded=True),  # as httpx encoded it: a SigV4 signature covers the exact path
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=self._timeout(timeout),
                proxy=self.proxy_for(url),
            )
        return UpstreamResponse(response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = request.content if isinstance(request.stream, httpx.ByteStream) else await request.aread()
        with _mapped_errors(request):
            response = await self._session_now().request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=content or None,
                allow_redirects=False,
                timeout=self._timeout(request.extensions.get("timeout") or {}),
                proxy=self.proxy_for(request.url),
                auto_decompress=False,  # httpx decodes
            )
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_AiohttpBody(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


class _NoCookies(httpx.Cookies):
    """A gateway must not keep upstream cookies: they would be replayed for every tenant. Skipping the jar
    also saves the per-response cookie parsing httpx otherwise does."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def build_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The one shared client; per-request timeouts come from each provider's Network."""
    client = httpx.AsyncClient(
        transport=transport or AiohttpTransport(),
        limits=POOL_LIMITS,
        timeout=httpx.Timeout(600.0, connect=10.0),
        http1=True,
        follow_redirects=False,
    )
    client._cookies = _NoCookies()  # httpx has no public switch for this; the attribute is stable since 0.18
    return client


UpstreamReply = httpx.Response | UpstreamResponse  # what post_upstream returns: same interface for the adapters


async def post_upstream(
    client: httpx.AsyncClient,
    url: httpx.URL,
    content: bytes,
    headers: Mapping[str, str],
    timeout: dict[str, float | None],
    pool: tuple[str, int] | None = None,
) -> UpstreamReply:
    """POST with the body unread. On AiohttpTransport, natively; on any other transport (tests inject an
    httpx.MockTransport) as an httpx.Request sent straight to it. Either way AsyncClient.send is skipped: the
    gateway uses none of what it adds (auth flows, redirects, cookies, event hooks) and it costs ~110 µs.
    `pool`: (provider name, network.max_connections), the provider's own connection pool."""
    request_id = current_request_id.get()
    if request_id is not None and "x-request-id" not in headers:  # the client's request id travels upstream
        headers = {**headers, "x-request-id": request_id}
    transport: httpx.AsyncBaseTransport = client._transport  # stable private attribute, as _cookies above
    if isinstance(transport, AiohttpTransport):
        return await transport.post(url, content, headers, timeout, pool)
    request = httpx.Request("POST", url, content=content, headers=headers, extensions={"timeout": timeout})
    response = await transport.handle_async_request(request)
    response.request = request
    return response


def timeout_for(network: config.Network) -> httpx.Timeout:
    return httpx.Timeout(
        connect=network.connect_timeout,
        read=network.read_timeout,
        write=network.read_timeout,
        pool=network.connect_timeout,
    )
