"""The key is checked before the body is read: a caller without a valid key gets a 401, whatever it sent, and
its upload is never read (20 unauthenticated 30 MB bodies cost no memory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.integration.wired import WAIT_S, Wired, base_spec, compile_gateway, sha256, wired_server

KEY = "sk-bfc-auth-0123456789"
BODY_MB = 30
CHUNK = b"x" * 65536
# (path, what a 401 body looks like in that path's dialect)
ENDPOINTS = [
    ("/anthropic/v1/messages", "anthropic"),
    ("/anthropic/v1/messages/count_tokens", "anthropic"),
    ("/v1/chat/completions", "openai"),
    ("/openai/v1/responses", "openai"),
    ("/v1/embeddings", "openai"),
]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    spec = base_spec(tmp_path / "gw.db")
    spec["virtual_keys"] = [{"name": "dev", "key_sha256": sha256(KEY)}]
    async with wired_server(compile_gateway(tmp_path, spec)) as wired:
        yield wired


def _assert_401(response: httpx.Response, dialect: str) -> None:
    assert response.status_code == 401, response.text
    error = response.json()
    if dialect == "anthropic":
        assert error["type"] == "error" and error["error"]["type"] == "authentication_error"
    else:
        assert error["error"]["type"] in ("invalid_request_error", "authentication_error")


@pytest.mark.parametrize(("path", "dialect"), ENDPOINTS)
async def test_bad_json_without_a_key_is_a_401(served: Wired, path: str, dialect: str) -> None:
    response = await served.http.post(f"{served.url}{path}", content=b"{not json", headers={"x-api-key": "sk-wrong"})
    _assert_401(response, dialect)
    response = await served.http.post(f"{served.url}{path}", content=b"[1, 2")
    _assert_401(response, dialect)
    # With the key, the same body is the caller's mistake: a 400.
    response = await served.http.post(f"{served.url}{path}", content=b"{not json", headers={"x-api-key": KEY})
    assert response.status_code == 400, response.text


class CountingBody(httpx.AsyncByteStream):
    """A 30 MB upload produced on demand, counting how much of it the server asked for."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < BODY_MB * 2**20:
            self.sent += len(CHUNK)
            yield CHUNK


@pytest.mark.parametrize(("path", "dialect"), ENDPOINTS)
async def test_unauthenticated_uploads_are_not_read(served: Wired, path: str, dialect: str) -> None:
    # In-process ASGI: the app pulls each chunk through `receive`, so `sent` is exactly what it read.
    transport = httpx.ASGITransport(app=served.app)
    bodies = [CountingBody() for _ in range(20)]
    headers = {"content-type": "application/json", "content-length": str(BODY_MB * 2**20)}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=WAIT_S) as client:
        responses = await asyncio.gather(
            *(client.post(path, content=body, headers=headers) for body in bodies)  # type: ignore[arg-type]
        )
    for response in responses:
        _assert_401(response, dialect)
    # At most the first chunk ASGITransport hands over with the request; never the body.
    assert max(body.sent for body in bodies) <= len(CHUNK)
