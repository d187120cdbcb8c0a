"""The production upstream transport (UpstreamTransport over transport/h1.py) against a real HTTP/1.1 server on
127.0.0.1, on both of its routes: `post_upstream` (native, the adapters' hot path) and the httpx client API (other
adapters), on both event loops: asyncio's and uvloop's (what `bifrostc serve` runs)."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import pathlib
import ssl
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from bifrostc.runtime.http import UpstreamReply, UpstreamResponse, UpstreamTransport, build_client, post_upstream


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    if request.param == "uvloop":
        import uvloop

        return uvloop.EventLoopPolicy()
    return asyncio.DefaultEventLoopPolicy()


Reply = Callable[[bytes], bytes | None]  # request head+body -> raw response bytes (None: close without answering)


class LocalServer:
    """A keep-alive HTTP/1.1 server whose replies are raw bytes chosen per request by `reply`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.hold = asyncio.Event()  # replies returning b"" wait on this (never set: an upstream that stalls)
        self.server: asyncio.Server | None = None
        self.close_after_reply = False  # drop keep-alive connections once answered, without saying so

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.reply(request)
                if answer is None:
                    return
                if answer == b"":
                    await self.hold.wait()
                writer.write(answer)
                await writer.drain()
                if self.close_after_reply:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Reply], asyncio.Future[LocalServer]]]:
    servers: list[LocalServer] = []

    async def start(reply: Reply) -> LocalServer:
        server = LocalServer(reply)
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in servers:
        server.hold.set()
        assert server.server is not None
        server.server.close()


def json_reply(body: bytes, *extra: bytes) -> Reply:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % len(body)
    return lambda _request: head + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body


@pytest.fixture(params=["native", "httpx"])
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def post(client: httpx.AsyncClient, url: str, route: str, **timeout: float) -> UpstreamReply:
    headers = {"authorization": "Bearer k", "content-type": "application/json"}
    limits = httpx.Timeout(5.0, **timeout).as_dict()
    if route == "native":
        response = await post_upstream(client, httpx.URL(url), b'{"x":1}', headers, limits)
        assert isinstance(response, UpstreamResponse)
        return response
    request = client.build_request("POST", url, content=b'{"x":1}', headers=headers)
    request.extensions["timeout"] = limits
    return await client.send(request, stream=True)


async def test_json_round_trip_reuses_one_pooled_connection(serve, route: str) -> None:
    server = await serve(json_reply(b'{"ok":true}'))
    client = build_client()
    try:
        for _ in range(3):
            response = await post(client, f"{server.url}/v1/chat/completions", route)
            assert response.status_code == 200
            assert await response.aread() == b'{"ok":true}'
            await response.aclose()
    finally:
        await client.aclose()
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"authorization: bearer k" in first.lower()
    assert first.lower().count(b"content-type: application/json") == 1
    assert first.endswith(b'\r\n\r\n{"x":1}')


async def test_chunked_stream_arrives_in_order(serve, route: str) -> None:
    frames = [b'data: {"n":%d}\n\n' % i for i in range(5)]
    body = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    server = await serve(lambda _r: head + body)
    client = build_client()
    try:
        response = await post(client, server.url, route)
        received = b"".join([chunk async for chunk in response.aiter_bytes()])
        await response.aclose()
    finally:
        await client.aclose()
    assert received == b"".join(frames)


async def test_gzip_body_is_decoded_by_httpx_and_cookies_are_not_kept(serve, route: str) -> None:
    packed = gzip.compress(b'{"hello":"world"}')
    server = await serve(json_reply(packed, b"content-encoding: gzip", b"set-cookie: tenant=a; Path=/"))
    client = build_client()
    try:
        for _ in range(2):
            response = await post(client, server.url, route)
            assert await response.aread() == b'{"hello":"world"}'
            await response.aclose()
    finally:
        await client.aclose()
    assert b"cookie" not in server.requests[1].lower().replace(b"set-cookie", b"")


async def test_error_status_and_headers_come_through(serve, route: str) -> None:
    body = b'{"error":{"message":"slow down"}}'
    head = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-length: %d\r\n\r\n" % len(body)
    server = await serve(lambda _r: head + body)
    client = build_client()
    try:
        response = await post(client, server.url, route)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        assert await response.aread() == body
        await response.aclose()
    finally:
        await client.aclose()


async def test_refused_connection_is_an_httpx_connect_error(route: str) -> None:
    with socket_bound() as port:
        client = build_client()
        try:
            with pytest.raises(httpx.ConnectError):
                await post(client, f"http://127.0.0.1:{port}", route)
        finally:
            await client.aclose()


async def test_dropped_connection_is_an_httpx_transport_error(serve, route: str) -> None:
    server = await serve(lambda _r: None)
    client = build_client()
    try:
        with pytest.raises(httpx.TransportError) as caught:
            await post(client, server.url, route)
    finally:
        await client.aclose()
    assert not isinstance(caught.value, httpx.TimeoutException)  # a 502, not a 504


async def test_stalled_upstream_is_an_httpx_read_timeout(serve, route: str) -> None:
    server = await serve(lambda _r: b"")  # never answers
    client = build_client()
    try:
        with pytest.raises(httpx.ReadTimeout):
            await post(client, server.url, route, read=0.05)
    finally:
        await client.aclose()


def test_env_proxies_apply_per_origin_and_honour_no_proxy() -> None:
    transport = UpstreamTransport(proxies={"https": "http://proxy:3128", "no": "internal.example,127.0.0.1"})
    assert transport.proxy_for(httpx.URL("https://api.openai.com/v1/x")) == "http://proxy:3128"
    assert transport.proxy_for(httpx.URL("https://internal.example/v1")) is None
    assert transport.proxy_for(httpx.URL("http://api.openai.com/v1")) is None  # no http proxy configured
    assert UpstreamTransport(proxies={}).proxy_for(httpx.URL("https://api.openai.com")) is None


class socket_bound:
    """A port that is bound but not listening: connecting to it is refused."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


async def test_stream_closed_early_drops_its_connection_instead_of_reusing_it(serve, route: str) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    first_frame = b'data: {"n":0}\n\n'
    replies = iter([head + b"%x\r\n%s\r\n" % (len(first_frame), first_frame), None])
    ok = json_reply(b'{"ok":true}')
    server = await serve(lambda request: next(replies, None) or ok(request))
    client = build_client()
    try:
        response = await post(client, server.url, route)
        async for chunk in response.aiter_bytes():
            assert chunk == first_frame
            break
        await response.aclose()  # the client went away mid-stream
        again = await post(client, server.url, route)
        assert await again.aread() == b'{"ok":true}'
        await again.aclose()
    finally:
        await client.aclose()
    assert server.connections == 2


async def test_lines_split_on_lf_and_crlf_across_chunks_and_multibyte_characters(serve, route: str) -> None:
    payload = "event: a\r\ndata: héllo ✓\n\ndata: last".encode()
    pieces = [payload[:3], payload[3:13], payload[13:14], payload[14:]]  # cuts inside \r\n and inside é
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    server = await serve(lambda _r: head + body)
    client = build_client()
    try:
        response = await post(client, server.url, route)
        lines = [line async for line in response.aiter_lines()]
        await response.aclose()
    finally:
        await client.aclose()
    assert lines == ["event: a", "data: héllo ✓", "", "data: last"]


def self_signed_cert(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A throwaway certificate for 127.0.0.1, made with the cryptography package (installed with the SDKs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.parametrize("trusted", [False, True])
async def test_tls_certificates_are_verified(tmp_path, monkeypatch, route: str, trusted: bool) -> None:
    cert_path, key_path = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    server = LocalServer(json_reply(b'{"ok":true}'))
    server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=context)
    port = server.server.sockets[0].getsockname()[1]
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # honoured as httpx honours it
    client = build_client()
    try:
        if trusted:
            response = await post(client, f"https://127.0.0.1:{port}", route)
            assert await response.aread() == b'{"ok":true}'
            await response.aclose()
        else:
            with pytest.raises(httpx.ConnectError):  # self-signed: not in the CA bundle
                await post(client, f"https://127.0.0.1:{port}", route)
    finally:
        await client.aclose()
        server.hold.set()
        server.server.close()
    assert len(server.requests) == (1 if trusted else 0)


async def test_httpx_route_sends_the_request_headers_without_additions(serve) -> None:
    server = await serve(json_reply(b"{}"))
    client = build_client()
    try:
        response = await client.post(server.url, content=b"abc", headers={"x-amz-date": "20260101T000000Z"})
        assert response.json() == {}
    finally:
        await client.aclose()
    head = server.requests[0].split(b"\r\n\r\n")[0].lower()
    assert b"x-amz-date: 20260101t000000z" in head
    assert b"content-type" not in head  # aiohttp would add application/octet-stream for a bytes body
    assert b"content-length: 3" in head


async def test_long_response_headers_are_accepted(serve, route: str) -> None:
    server = await serve(json_reply(b"{}", b"x-trace: " + b"a" * 20000))
    client = build_client()
    try:
        response = await post(client, server.url, route)
        assert len(response.headers["x-trace"]) == 20000
        await response.aread()
        await response.aclose()
    finally:
        await client.aclose()


async def test_connection_closed_by_upstream_while_idle_is_not_reused(serve, route: str) -> None:
    server = await serve(json_reply(b'{"ok":true}'))
    server.close_after_reply = True
    client = build_client()
    try:
        for _ in range(3):
            response = await post(client, server.url, route)
            assert await response.aread() == b'{"ok":true}'
            await response.aclose()
            await asyncio.sleep(0.05)  # lets the loop see the upstream's FIN, as an idle pooled connection would
    finally:
        await client.aclose()
    assert server.connections == 3


def _sized_stream(request: bytes) -> bytes:
    """`POST /big/<n>`: an n-byte body as one chunk in one write; anything else: a small JSON answer."""
    path = request.split(b" ", 2)[1]
    if not path.startswith(b"/big/"):
        return json_reply(b'{"ok":true}')(request)
    data = b"x" * int(path.rsplit(b"/", 1)[1])
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


async def test_a_slowly_read_large_body_leaves_its_pooled_connection_healthy(serve, route: str) -> None:
    """issue 10 item 13: aiohttp can re-arm sock_read on a connection already back in the pool (a slow reader
    resumes the parser, the body's EOF releases the connection, then the timer restarts); it fired on the idle
    connection and the next request on it failed at once with a ReadTimeout. Every follow-up must get its answer."""
    server = await serve(_sized_stream)
    client = build_client()
    read_timeout = 0.3
    failures = []
    try:
        for size in range(600_000, 900_001, 50_000):  # where the last read ends the body varies with the size
            response = await post(client, f"{server.url}/big/{size}", route, read=read_timeout)
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                await asyncio.sleep(0.003)  # a slow consumer: aiohttp pauses and resumes reading
            await response.aclose()
            assert received == size
            await asyncio.sleep(read_timeout * 1.5)  # a stale timer would have fired by now
            try:
                follow = await post(client, f"{server.url}/small", route, read=read_timeout)
                assert (follow.status_code, await follow.aread()) == (200, b'{"ok":true}')
                await follow.aclose()
            except httpx.TransportError as exc:
                failures.append((size, repr(exc)))
    finally:
        await client.aclose()
    assert not failures


class Proxy:
    """A forward proxy on 127.0.0.1: absolute-form requests are answered by the proxy itself; CONNECT opens a
    tunnel to the named host:port and pipes bytes both ways. Every request head it read is kept."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            if head.startswith(b"CONNECT "):
                host, port = head.split(b" ")[1].decode().rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
                return
            length = int(next(v for k, v in _fields(head) if k == b"content-length"))
            await reader.readexactly(length)
            writer.write(
                b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n{"proxied":1}\n'
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://bob:s%40cret@127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    lines = head.split(b"\r\n")[1:]
    return [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(b":") for line in lines if line)]


async def test_plain_http_goes_to_the_proxy_in_absolute_form_with_its_credentials(route: str) -> None:
    proxy = Proxy()
    proxy.server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    client = build_client(UpstreamTransport(proxies={"http": proxy.url}))
    try:
        response = await post(client, "http://upstream.example:8080/v1/chat/completions?x=1", route)
        assert await response.aread() == b'{"proxied":1}\n'
        await response.aclose()
    finally:
        await client.aclose()
        proxy.server.close()
    head = proxy.heads[0]
    assert head.startswith(b"POST http://upstream.example:8080/v1/chat/completions?x=1 HTTP/1.1\r\n")
    assert (b"proxy-authorization", b"Basic Ym9iOnNAY3JldA==") in _fields(head)  # bob:s@cret
    assert (b"host", b"upstream.example:8080") in _fields(head)


async def test_https_goes_through_a_connect_tunnel_and_tls_is_verified_end_to_end(
    tmp_path, monkeypatch, route: str
) -> None:
    cert_path, key_path = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    upstream = LocalServer(json_reply(b'{"ok":true}'))
    upstream.server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0, ssl=context)
    port = upstream.server.sockets[0].getsockname()[1]
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    proxy = Proxy()
    proxy.server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    client = build_client(UpstreamTransport(proxies={"https": proxy.url}))
    try:
        for _ in range(2):
            response = await post(client, f"https://127.0.0.1:{port}/v1/messages", route)
            assert await response.aread() == b'{"ok":true}'
            await response.aclose()
    finally:
        await client.aclose()
        proxy.server.close()
        upstream.hold.set()
        upstream.server.close()
    assert [h.split(b"\r\n")[0] for h in proxy.heads] == [b"CONNECT 127.0.0.1:%d HTTP/1.1" % port]  # one, reused
    assert (b"proxy-authorization", b"Basic Ym9iOnNAY3JldA==") in _fields(proxy.heads[0])
    assert upstream.requests[0].startswith(b"POST /v1/messages HTTP/1.1\r\n") and len(upstream.requests) == 2


async def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent(serve) -> None:
    server = await serve(json_reply(b"{}"))
    client = build_client()
    try:
        with pytest.raises(httpx.LocalProtocolError):
            await post_upstream(
                client, httpx.URL(server.url), b"{}", {"x-note": "a\r\nx-injected: 1"}, httpx.Timeout(5.0).as_dict()
            )
    finally:
        await client.aclose()
    assert server.requests == []
