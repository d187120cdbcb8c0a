"""HTTP plumbing shared by the adapters: the pooled client, timeouts, SSE reading and error mapping.

Adapters see an `httpx.AsyncClient` (tests inject an `httpx.MockTransport`), but in production its transport is
`UpstreamTransport` over the gateway's own HTTP/1.1 client (`transport/h1.py`): httpcore 1.0's pool spends most
of the gateway's CPU under concurrency (encode/httpcore#1035) and aiohttp's request machinery ~3x what h1 does
(bench/RESULTS.md). The hot path (`post_upstream`) talks to it natively and returns an `UpstreamResponse`, which
offers the part of httpx.Response the adapters use; other adapters keep the full httpx client API on the same pools.
"""

from __future__ import annotations

import codecs
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import overload

import httpx
from httpx._decoders import SUPPORTED_DECODERS, ContentDecoder  # the encodings httpx's accept-encoding names

from bifrostc.runtime import config
from bifrostc.runtime.context import current_request_id
from bifrostc.runtime.transport import h1

# Connections per provider pool come from `network.max_connections` (a stream holds one until it ends, so a fixed
# cap would throttle long streams: 512 / 1.18 s streams = 433 streams/s); this default is for the other pool.
DEFAULT_MAX_CONNECTIONS = 4096
KEEPALIVE_SECONDS = 60.0
POOL_LIMITS = httpx.Limits(
    max_connections=DEFAULT_MAX_CONNECTIONS, max_keepalive_connections=None, keepalive_expiry=KEEPALIVE_SECONDS
)
PoolWaitObserver = h1.PoolWaitObserver  # (provider, seconds a request waited for a free connection)
DEFAULT_POOL = ""  # the pool of requests that name no provider (the httpx client API, probes)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ResponseHeaders(dict[str, str]):
    """An upstream answer's headers by lower-cased name (repeated ones joined with ", ", as httpx.Headers.get
    answers); looked up case-insensitively, like httpx.Headers."""

    __slots__ = ()

    def __init__(self, raw: h1.RawHeaders) -> None:
        super().__init__()
        for name, value in raw:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            super().__setitem__(key, f"{dict.__getitem__(self, key)}, {text}" if key in self else text)

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name.lower() if isinstance(name, str) else name)

    @overload  # type: ignore[override]
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    @overload
    def get(self, name: str, default: None) -> str | None: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        return dict.get(self, name.lower(), default)


def _decoder(headers: ResponseHeaders) -> ContentDecoder | None:
    """What undoes the answer's content-encoding (the ones httpx's accept-encoding header offered)."""
    encoding = headers.get("content-encoding")
    if not encoding or encoding == "identity":
        return None
    found = SUPPORTED_DECODERS.get(encoding.strip().lower())
    return found() if found is not None else None  # an encoding nobody asked for: relayed as it came (as httpx)


class UpstreamResponse:
    """An upstream answer straight off its connection: the part of httpx.Response the adapters use
    (status_code, headers, aread, aiter_bytes, aiter_lines, aclose) without building httpx models, which cost
    ~90 µs a request. Bodies arrive decoded; failures raise httpx TransportErrors. The connection goes back to
    its pool once the body was read to its end, and is dropped when the answer is closed before that."""

    __slots__ = ("_conn", "_decoder", "_pool", "headers", "status_code")

    def __init__(self, conn: h1.Connection, pool: h1.Pool) -> None:
        self._conn: h1.Connection | None = conn
        self._pool = pool
        self.status_code = conn.status
        self.headers = ResponseHeaders(conn.headers)
        self._decoder = _decoder(self.headers)

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        decoder = self._decoder
        try:
            while data := await conn.read_some():
                if decoder is not None:
                    data = _decoded(decoder.decode, data)
                if data:
                    yield data
            if decoder is not None and (tail := _decoded(lambda _: decoder.flush(), b"")):
                yield tail
        except BaseException:
            self._end()
            raise
        self._end()

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
        self._end()

    def _end(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, conn.finish())


def _decoded(decode: object, data: bytes) -> bytes:
    try:
        return decode(data)  # type: ignore[operator, no-any-return]
    except httpx.DecodingError as exc:
        raise httpx.RemoteProtocolError(f"the upstream's body does not decode: {exc}") from exc


class _RawBody(httpx.AsyncByteStream):
    """An answer's body for httpx (which undoes the content-encoding itself); closing it returns the connection
    to its pool when the body was read to the end, else drops it."""

    def __init__(self, conn: h1.Connection, pool: h1.Pool) -> None:
        self._conn: h1.Connection | None = conn
        self._pool = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while conn is not None and (data := await conn.read_some()):
            yield data

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, conn.finish())


class UpstreamTransport(httpx.AsyncBaseTransport):
    """The gateway's upstream pools (`transport/h1.py`), as an httpx transport (for adapters using the httpx
    client API) and through `post` (the hot path, see `post_upstream`). Cookies are never stored (they would be
    replayed for every tenant); HTTP(S)_PROXY/NO_PROXY from the environment are honoured, read once."""

    def __init__(self, limits: httpx.Limits = POOL_LIMITS, proxies: dict[str, str] | None = None) -> None:
        self._limits = limits
        self._pools: dict[str, h1.Pool] = {}  # one pool per provider, sized by its network
        self.pool_wait_observers: list[PoolWaitObserver] = []  # e.g. the bifrostc_upstream_pool_wait_seconds metric
        self._proxies = urllib.request.getproxies_environment() if proxies is None else proxies
        # Per (scheme, netloc): the origin, the host header and, through an http:// proxy, the absolute-form prefix
        self._origins: dict[tuple[str, bytes], tuple[h1.Origin, str, bytes]] = {}
        self._timeouts: dict[tuple[float | None, ...], h1.Timeouts] = {}
        self._ssl: ssl.SSLContext | None = None

    def proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy URL for this request's origin from the environment's proxy settings, or None."""
        if not self._proxies:
            return None
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # public, not in typeshed
        if proxy and bypass(url.host, self._proxies):
            proxy = None
        return proxy

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # at the first https connection: SSL_CERT_FILE/DIR as the process has them then
            self._ssl = httpx.create_ssl_context()  # same CA bundle (certifi, SSL_CERT_FILE/DIR) as httpx uses
        return self._ssl

    def _pool(self, name: str, limit: int | None) -> h1.Pool:
        pool = self._pools.get(name)
        if pool is None or pool.closed:
            size = limit if limit is not None else (self._limits.max_connections or 0)
            keepalive = self._limits.keepalive_expiry or 0.0
            pool = h1.Pool(name, size, keepalive, self._ssl_context, self.pool_wait_observers)
            self._pools[name] = pool
        return pool

    def _origin(self, url: httpx.URL) -> tuple[h1.Origin, str, bytes]:
        key = (url.scheme, url.netloc)
        found = self._origins.get(key)
        if found is None:
            if url.scheme not in _DEFAULT_PORTS:
                raise httpx.UnsupportedProtocol(f"the upstream URL's scheme must be http or https: {url}")
            proxy = self.proxy_for(url)
            origin = h1.Origin(url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme], proxy)
            prefix = b"%s://%s" % (url.scheme.encode(), url.netloc) if proxy and url.scheme == "http" else b""
            found = self._origins[key] = (origin, url.netloc.decode("ascii"), prefix)
        return found

    def _timeout(self, timeout: Mapping[str, float | None]) -> h1.Timeouts:
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = h1.Timeouts(*key)
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
        origin, host, prefix = self._origin(url)
        items: Iterator[tuple[str, str]] | list[tuple[str, str]] = iter(headers.items())
        if prefix and (auth := h1.proxy_authorization(origin.proxy or "")):
            items = [*headers.items(), ("proxy-authorization", auth)]
        head = h1.request_head("POST", prefix + url.raw_path, items, host, len(content))
        timeouts = self._timeout(timeout)
        upstream = self._pool(*pool) if pool is not None else self._pool(DEFAULT_POOL, None)
        conn = await upstream.acquire(origin, timeouts)
        try:
            conn.send([head, content] if len(content) > 65536 else head + content, timeouts.read)
            await conn.wait_head()
        except BaseException:
            conn.finish()
            upstream.release(conn, False)
            raise
        return UpstreamResponse(conn, upstream)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = request.content if isinstance(request.stream, httpx.ByteStream) else await request.aread()
        origin, _, prefix = self._origin(request.url)
        raw = list(request.headers.raw)
        if prefix and (auth := h1.proxy_authorization(origin.proxy or "")):
            raw.append((b"proxy-authorization", auth.encode("ascii")))
        head = h1.raw_head(request.method, prefix + request.url.raw_path, raw)
        timeouts = self._timeout(request.extensions.get("timeout") or {})
        upstream = self._pool(DEFAULT_POOL, None)
        conn = await upstream.acquire(origin, timeouts)
        try:
            conn.send(head + content, timeouts.read, head_only=request.method == "HEAD")
            await conn.wait_head()
        except BaseException:
            conn.finish()
            upstream.release(conn, False)
            raise
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=_RawBody(conn, upstream),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
        )

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


class _NoCookies(httpx.Cookies):
    """A gateway must not keep upstream cookies: they would be replayed for every tenant. Skipping the jar
    also saves the per-response cookie parsing httpx otherwise does."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def build_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The one shared client; per-request timeouts come from each provider's Network."""
    client = httpx.AsyncClient(
        transport=transport or UpstreamTransport(),
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
    """POST with the body unread. On UpstreamTransport, natively; on any other transport (tests inject an
    httpx.MockTransport) as an httpx.Request sent straight to it. Either way AsyncClient.send is skipped: the
    gateway uses none of what it adds (auth flows, redirects, cookies, event hooks) and it costs ~110 µs.
    `pool`: (provider name, network.max_connections), the provider's own connection pool."""
    request_id = current_request_id.get()
    if request_id is not None and "x-request-id" not in headers:  # the client's request id travels upstream
        headers = {**headers, "x-request-id": request_id}
    transport: httpx.AsyncBaseTransport = client._transport  # stable private attribute, as _cookies above
    if isinstance(transport, UpstreamTransport):
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
