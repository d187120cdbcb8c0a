"""A Redis connection whose socket the server closed, written to under uvloop (what `bifrostc serve` runs).

uvloop raises ``RuntimeError: unable to perform operation on <TCPTransport closed=True>`` for that write where
asyncio's loop raises nothing; redis-py let it through, and a Sentinel failover answered one request with a 500
(tests/scale/test_redis_failover.py). The clients from ``runtime/redis_client.py`` turn it into a
ConnectionError, which redis-py retries on a fresh connection, and which the stores count as an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.exceptions

from bifrostc.runtime import redis_client
from tests.scale.gateways import free_port
from tests.scale.topology import Nodes, _client, _start, _until, have_redis

uvloop = pytest.importorskip("uvloop")
pytestmark = pytest.mark.skipif(not have_redis(), reason="needs redis-server")


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    nodes = Nodes([port])
    try:
        _start(nodes, port, tmp_path / "redis")
        _until("redis", lambda: _client(port).ping())
        yield port
    finally:
        nodes.close()


async def _write_on_closed_transport(port: int, *, retries: bool) -> object:
    handle = redis_client.from_url(f"redis://127.0.0.1:{port}", decode=True)
    client = handle.client
    assert isinstance(client, redis.asyncio.Redis)
    if not retries:
        client.connection_pool.connection_kwargs["retry"] = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0)
    try:
        await client.set("k", "v")
        connection = await client.connection_pool.get_connection()
        connection._writer.transport.close()  # type: ignore[union-attr]  # the server side went away under it
        await asyncio.sleep(0)
        if not retries:
            # Written on directly: redis-py 8 checks a connection it checks out and would reconnect this one.
            try:
                return await connection.send_command("GET", "k")
            finally:
                await client.connection_pool.release(connection)
        await client.connection_pool.release(connection)
        return await client.get("k")
    finally:
        await client.aclose()


def test_a_write_on_a_closed_connection_is_retried_on_a_fresh_one(redis_port: int) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(_write_on_closed_transport(redis_port, retries=True)) == "v"


def test_without_a_retry_it_is_a_connection_error_the_stores_count_as_an_outage(redis_port: int) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        # Ours ("closed while writing") before redis-py 8; redis-py 8 raises its own ("closed by the server").
        with pytest.raises(redis.exceptions.ConnectionError, match="closed"):
            runner.run(_write_on_closed_transport(redis_port, retries=False))
    assert issubclass(redis.exceptions.ConnectionError, redis_client.OUTAGE_ERRORS)
