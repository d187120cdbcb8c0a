"""The uvicorn pieces `bifrostc serve` runs: a shutdown with a deadline for streams, and header limits.

Shutdown. uvicorn stops accepting and waits for open requests with no limit, so one stalled stream holds a
SIGTERM for its upstream's read timeout (300 s). `GracefulServer` ends every open stream after
`server.shutdown_grace_seconds` with its dialect's error event (`dispatch.OPEN_STREAMS`); what is still
running `SHUTDOWN_CUT_SECONDS` later (a response its client does not read, a non-streamed request) is cancelled
by uvicorn's own `timeout_graceful_shutdown`.

Headers.
Stock uvicorn on httptools accepts a 1 MB header, 100,000 headers, and a connection that trickles its headers
forever (it arms no timer before a first request, and none while a request's headers arrive), so 200 slowloris
connections hold 200 sockets. Here a request's line and headers are capped in bytes and count (431) and must
arrive within `server.header_timeout_seconds` of the connection opening or the request starting (408).
A refusal is a lingering close (as nginx and Go's net/http do): the answer, then our FIN, then what the
client still sends is read and dropped (at most `MAX_DRAIN_BYTES`, at most one more header timeout) until it
closes. Closing a socket with unread input makes the kernel send a reset, and a client still writing its
oversized headers then saw "connection reset" instead of the 431.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bifrostc.runtime.disconnect import SCOPE_KEY, DisconnectSignal

log = logging.getLogger("bifrostc.server")
SHUTDOWN_CUT_SECONDS = 5.0

MAX_HEADER_BYTES = 64 * 1024  # request line + headers; Node's default is 16 KB, nginx's 4 x 8 KB
MAX_HEADERS = 128  # Node's and Go's defaults are near 100; no client of this gateway sends more than ~30
MAX_DRAIN_BYTES = 4 * 1024 * 1024  # read and dropped after a refusal before the close (then a reset is fine)


class HeaderLimitExceeded(Exception):
    """Raised from a parser callback: httptools stops parsing and uvicorn answers through send_400_response."""


def _response(status: bytes, message: str) -> bytes:
    body = message.encode()
    return b"".join(
        (
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        )
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0  # set per server by `protocol_class`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._header_count = 0
        self._refusal: bytes | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._drain: int | None = None  # bytes still to drop after a refusal (None: not refused)
        self._signals: list[DisconnectSignal] = []  # requests of this connection a stream still watches

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()  # a connection that never sends a byte is dropped too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)
        signals, self._signals = self._signals, []
        for signal in signals:
            signal.fire()

    def data_received(self, data: bytes) -> None:
        if self._drain is None:
            super().data_received(data)
            return
        self._drain -= len(data)  # refused: the rest of the request is dropped unparsed
        if self._drain < 0:
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        signal = DisconnectSignal()  # a stream learns of the client leaving from it (runtime/disconnect.py)
        self.scope.setdefault("extensions", {})[SCOPE_KEY] = {"signal": signal}
        self._signals = [s for s in self._signals if s.watched]  # a keep-alive connection's past requests
        self._signals.append(signal)
        self._header_bytes = self._header_count = 0
        if self._header_timer is None:
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._refuse(self._refusal)

    def _count(self, size: int, headers: int) -> None:
        self._header_bytes += size
        self._header_count += headers
        if self._header_bytes > MAX_HEADER_BYTES or self._header_count > MAX_HEADERS:
            limits = f"at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes of request line and headers"
            self._refusal = _response(b"431 Request Header Fields Too Large", f"request headers too large: {limits}")
            raise HeaderLimitExceeded(limits)

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._on_header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served (its headers completed): not ours to cut
        self._refuse(_response(b"408 Request Timeout", "request headers not received in time"))

    def _refuse(self, response: bytes) -> None:
        """Answer, send our FIN, and drain the client's input until it closes (bounded in bytes and time)."""
        self.transport.write(response)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()  # after the answer is flushed; the client's EOF then closes the transport
        self._drain = MAX_DRAIN_BYTES
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self.transport.close)


def protocol_class(header_timeout: float) -> type[GuardedHttpToolsProtocol]:
    """The protocol with this server's header timeout (uvicorn builds protocols from a class)."""
    return type("GatewayHttpProtocol", (GuardedHttpToolsProtocol,), {"header_timeout": header_timeout})


class GracefulServer(uvicorn.Server):
    """uvicorn's shutdown (stop accepting, let requests finish) with a deadline for open streams."""

    def __init__(self, config: uvicorn.Config, grace: float) -> None:
        super().__init__(config)
        self.grace = grace

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        timer = asyncio.get_running_loop().call_later(self.grace, end_open_streams, self.grace)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()


def end_open_streams(grace: float) -> None:
    from bifrostc.runtime.dispatch import OPEN_STREAMS

    count = OPEN_STREAMS.abort_all(f"the gateway is shutting down (grace period of {grace:g}s over)")
    if count:
        log.warning("shutdown grace period over: ended %d open stream(s) with an error event", count)
