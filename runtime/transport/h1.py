"""The upstream HTTP/1.1 client: keep-alive connection pools over asyncio protocols, responses parsed by httptools.

A gateway sends one kind of request upstream (a POST with a body it already holds, an answer read as it arrives),
so the client does only that, well: one `Connection` (an asyncio Protocol) carries one exchange at a time, llhttp
(httptools, C) parses the answer inside `data_received`, and the reader takes whatever arrived since it last
looked. aiohttp did the same job at ~3x the CPU per request and cost 0.19 s of start-up to import
(bench/RESULTS.md, issue 15); what it offered beyond this (cookies, redirects, multipart, websockets) a gateway
must not use anyway.

What it keeps from a full client: a pool per upstream origin with a connection limit and a bounded wait for a
free connection (each wait reported to `observers`), idle connections dropped after `keepalive_s` or as soon as
the upstream closes them, TLS verified with the caller's context (SNI), HTTP(S) proxies (absolute-form requests
for http://, a CONNECT tunnel for https://), a read timeout that counts only while the reader waits, and
flow control (a slow reader stops the socket being read, so a stream never buffers without bound). Failures
raise the httpx TransportError subclasses every adapter already handles.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from typing import NamedTuple, cast

import httptools
import httpx

HIGH_WATER = 256 * 1024  # bytes buffered before the socket stops being read (the reader is slow)
TUNNEL_HEAD_MAX = 65536  # a proxy's answer to CONNECT
PoolWaitObserver = Callable[[str, float], None]  # (pool name, seconds a request waited for a free connection)
RawHeaders = list[tuple[bytes, bytes]]


class Origin(NamedTuple):
    scheme: str  # "http" | "https"
    host: str
    port: int
    proxy: str | None  # the proxy URL this origin is reached through


class Timeouts(NamedTuple):
    connect: float | None
    read: float | None
    pool: float | None


class Connection(asyncio.Protocol):
    """One upstream connection. `send` starts an exchange; `wait_head` and `read_some` read its answer, which
    the parser's callbacks (`on_*`, called by httptools inside `data_received`) fill in."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.origin: Origin | None = None
        self._tunnel: bytearray | None = None  # a proxy's answer to CONNECT, while the tunnel is set up
        self._tunnel_done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._clear()

    def _clear(self) -> None:
        self.active = False  # an exchange is in flight
        self.status = 0
        self.reason = b""
        self.headers: RawHeaders = []
        self.keep_alive = False
        self.complete = False  # the whole answer arrived
        self.error: httpx.TransportError | None = None
        self._head: asyncio.Future[None] | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._until_eof = False  # no length, not chunked: the answer ends when the upstream closes
        self._head_only = False
        self._last_data = 0.0
        self._wait_started = 0.0
        self._read_timeout: float | None = None

    # -- the exchange, as its reader sees it ------------------------------------------------------------------

    def send(self, data: bytes | list[bytes], read_timeout: float | None, *, head_only: bool = False) -> None:
        assert self.transport is not None
        self.active = True
        self._head_only = head_only
        self._head = self.loop.create_future()
        if self.closed or self.transport.is_closing():  # closed by the upstream since it was pooled
            self._fail(httpx.RemoteProtocolError("the upstream closed the connection before the request"))
            return
        if isinstance(data, list):
            self.transport.writelines(data)
        else:
            self.transport.write(data)
        self._read_timeout = read_timeout
        self._last_data = self._wait_started = self.loop.time()
        if read_timeout is not None:
            self._timer = self.loop.call_at(self._last_data + read_timeout, self._check_read)

    async def wait_head(self) -> None:
        head = self._head
        assert head is not None
        if not head.done():
            self._wait_started = self.loop.time()
            await head
        if self.error is not None:
            raise self.error

    async def read_some(self) -> bytes:
        """The body bytes that arrived since the last call, as one piece; b"" once the answer is complete."""
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._buffered = 0
                if self._paused and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                return data
            if self.error is not None:
                raise self.error
            if self.complete:
                return b""
            self._waiter = self.loop.create_future()
            self._wait_started = self.loop.time()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def finish(self) -> bool:
        """End the exchange; True when the connection can carry another (the answer was read to its end)."""
        reusable = self.complete and self.keep_alive and self.error is None and not self.closed and not self._chunks
        if self._timer is not None:
            self._timer.cancel()  # a stale read timer must never fire on a pooled connection (issue 10 item 13)
        self._timer = None
        self._clear()
        return reusable

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def usable(self, now: float, keepalive_s: float) -> bool:
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and (now - self.idle_since < keepalive_s)
        )

    # -- read timeout -----------------------------------------------------------------------------------------

    def _check_read(self) -> None:
        """The read timeout counts while the reader waits and nothing arrives (a paused, slow reader is not a
        stalled upstream); one timer per exchange, moved forward instead of re-armed per read."""
        self._timer = None
        limit = self._read_timeout
        if not self.active or self.complete or self.error is not None or limit is None:
            return
        now = self.loop.time()
        waiting = self._waiter is not None or (self._head is not None and not self._head.done())
        since = max(self._last_data, self._wait_started)
        if waiting and now - since >= limit:
            self._fail(httpx.ReadTimeout(f"no data from the upstream for {limit:g} s"))
            return
        self._timer = self.loop.call_at((since if waiting else now) + limit, self._check_read)

    # -- asyncio.Protocol -------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._tunnel_received(data)
            return
        if not self.active:  # bytes nobody asked for: the connection's state is unknown
            self.close()
            return
        self._last_data = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed upstream response: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close: HTTP/1.1 has no half-closed exchanges

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._tunnel_done is not None and not self._tunnel_done.done():
            self._tunnel_done.set_exception(httpx.ConnectError("the proxy closed the connection"))
        if not self.active or self.complete or self.error is not None:
            return
        if exc is None and self._until_eof and self._head is not None and self._head.done():
            self.complete = True  # an answer without a length ends with its connection
            self._wake()
        elif exc is None:
            self._fail(httpx.RemoteProtocolError("the upstream closed the connection before answering in full"))
        else:
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))

    # -- httptools callbacks ----------------------------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 1xx (103 Early Hints): informational, the answer follows
            self.headers, self.reason = [], b""
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers)
        self._until_eof = not framed and status not in (204, 304)
        if self._head_only:  # HEAD: llhttp would wait for the body the headers announce; drop the connection
            self.complete, self.keep_alive = True, False
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self._head_only:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status == 0:
            return  # the end of a 1xx
        self.complete = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: httpx.TransportError) -> None:
        self.error = error
        if self._head is not None and not self._head.done():
            self._head.set_result(None)
        self._wake()
        self.close()

    # -- proxies ----------------------------------------------------------------------------------------------

    async def tunnel(self, authority: str, proxy_auth: str | None) -> None:
        """CONNECT through the proxy this connection reaches; returns once the proxy answered 2xx."""
        assert self.transport is not None
        self._tunnel = bytearray()
        self._tunnel_done = self.loop.create_future()
        lines = [f"CONNECT {authority} HTTP/1.1", f"host: {authority}"]
        if proxy_auth:
            lines.append(f"proxy-authorization: {proxy_auth}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            await self._tunnel_done
        finally:
            self._tunnel = None

    def _tunnel_received(self, data: bytes) -> None:
        assert self._tunnel is not None and self._tunnel_done is not None
        self._tunnel += data
        end = self._tunnel.find(b"\r\n\r\n")
        if end < 0:
            if len(self._tunnel) > TUNNEL_HEAD_MAX:
                self._tunnel_done.set_exception(httpx.ProxyError("the proxy's answer to CONNECT is too long"))
            return
        status_line = bytes(self._tunnel[: self._tunnel.find(b"\r\n")])
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[1].startswith(b"2") or end + 4 != len(self._tunnel):
            reason = status_line.decode("latin-1", "replace")
            self._tunnel_done.set_exception(httpx.ProxyError(f"the proxy refused the tunnel: {reason}"))
        elif not self._tunnel_done.done():
            self._tunnel_done.set_result(None)


class Pool:
    """One provider's upstream connections: at most `limit` open across its origins (0: no limit), idle ones
    reused newest first; a request finding the pool full waits (at most the pool timeout) for one to come back,
    or takes the slot of an idle connection to another origin."""

    def __init__(
        self,
        name: str,
        limit: int,
        keepalive_s: float,
        ssl_context: Callable[[], ssl.SSLContext],
        observers: list[PoolWaitObserver],
    ) -> None:
        self.name = name
        self.limit = limit
        self.keepalive_s = keepalive_s
        self._ssl_context = ssl_context
        self._observers = observers
        self.open = 0  # connections open or being opened, idle ones included
        self.closed = False
        self._idle: dict[Origin, list[Connection]] = {}
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()

    async def acquire(self, origin: Origin, timeouts: Timeouts) -> Connection:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(origin)
        if idle:
            now = loop.time()
            while idle:
                conn = idle.pop()
                if conn.usable(now, self.keepalive_s):
                    return conn
                conn.close()
                self.open -= 1
        if self.limit and self.open >= self.limit and not self._drop_other_idle(origin):
            handed = await self._wait(loop, origin, timeouts.pool)
            if handed is not None:
                return handed
        else:
            self.open += 1  # a slot handed over by `_wait` is already counted
        try:
            return await self._connect(loop, origin, timeouts.connect)
        except BaseException:
            self._free_slot()
            raise

    def _drop_other_idle(self, origin: Origin) -> bool:
        """At the limit, an idle connection to another origin gives up its slot (True: one did)."""
        for other, conns in self._idle.items():
            if other != origin and conns:
                conns.pop().close()
                self.open -= 1
                return True
        return False

    async def _wait(self, loop: asyncio.AbstractEventLoop, origin: Origin, timeout: float | None) -> Connection | None:
        """Queue for a connection; returns one handed over, or None for a freed slot to connect with."""
        waiter: asyncio.Future[Connection | None] = loop.create_future()
        self._waiters.append(waiter)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                handed = await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():  # handed something as the wait ended: pass it on
                late = waiter.result()
                if late is not None:
                    self.release(late, True)
                else:
                    self._free_slot()
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout(f"no free connection to {origin.host} within {timeout} s") from None
            raise
        finally:
            for observe in self._observers:
                observe(self.name, time.perf_counter() - started)
        if handed is not None and handed.origin != origin:  # a connection elsewhere: take its slot instead
            handed.close()
            return None
        return handed

    def release(self, conn: Connection, reusable: bool) -> None:
        if reusable and not conn.closed and not self.closed and conn.origin is not None:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(conn)
                    return
            conn.idle_since = conn.loop.time()
            self._idle.setdefault(conn.origin, []).append(conn)
            return
        conn.close()
        self._free_slot()

    def _free_slot(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to this waiter
                return
        self.open -= 1

    async def _connect(self, loop: asyncio.AbstractEventLoop, origin: Origin, timeout: float | None) -> Connection:
        scheme, host, port, proxy = origin
        conn = Connection(loop)
        conn.origin = origin
        try:
            async with asyncio.timeout(timeout):
                if proxy is None:
                    tls = self._ssl_context() if scheme == "https" else None
                    name = host if tls else None
                    await loop.create_connection(lambda: conn, host, port, ssl=tls, server_hostname=name)
                    return conn
                via = httpx.URL(proxy)
                via_port = via.port or (443 if via.scheme == "https" else 80)
                tls = self._ssl_context() if via.scheme == "https" else None
                server_name = via.host if tls else None
                await loop.create_connection(lambda: conn, via.host, via_port, ssl=tls, server_hostname=server_name)
                if scheme == "https":
                    await conn.tunnel(f"{host}:{port}", proxy_authorization(proxy))
                    assert conn.transport is not None
                    secured = await loop.start_tls(conn.transport, conn, self._ssl_context(), server_hostname=host)
                    conn.transport = cast(asyncio.Transport, secured)
                return conn
        except TimeoutError:
            conn.close()
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} took over {timeout} s") from None
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        self.closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
            self.open -= len(conns)
        self._idle.clear()


def proxy_authorization(proxy: str) -> str | None:
    """Basic credentials from the proxy URL's user info, as curl and httpx send them."""
    parts = urllib.parse.urlsplit(proxy)
    if parts.username is None:
        return None
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def request_head(method: str, target: bytes, headers: Iterable[tuple[str, str]], host: str, length: int) -> bytes:
    """The request line and headers, with host and content-length added when the caller did not give them. A
    CR or LF inside a name or value (header injection) is refused."""
    lines = [f"{method} {target.decode('ascii')} HTTP/1.1"]
    has_host = has_length = False
    for name, value in headers:
        lowered = name.lower()
        has_host = has_host or lowered == "host"
        has_length = has_length or lowered == "content-length"
        lines.append(f"{name}: {value}")
    if not has_host:
        lines.append(f"host: {host}")
    if not has_length and (length or method in ("POST", "PUT", "PATCH")):
        lines.append(f"content-length: {length}")
    text = "\r\n".join(lines)
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise httpx.LocalProtocolError("a request header contains a line break")
    return (text + "\r\n\r\n").encode()


def raw_head(method: str, target: bytes, headers: RawHeaders) -> bytes:
    """The same for headers already encoded (an httpx.Request's, host and content-length included)."""
    lines = [b"%s %s HTTP/1.1" % (method.encode("ascii"), target)]
    lines += [name + b": " + value for name, value in headers]
    joined = b"\r\n".join(lines)
    if joined.count(b"\n") != len(lines) - 1 or joined.count(b"\r") != len(lines) - 1:
        raise httpx.LocalProtocolError("a request header contains a line break")
    return joined + b"\r\n\r\n"
