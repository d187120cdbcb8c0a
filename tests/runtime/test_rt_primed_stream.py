"""PrimedStream's single-timer deadlines: read_timeout between items, total deadline, outside cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from rt_fakes import provider

from bifrostc.runtime import config
from bifrostc.runtime.dispatch import Attempt, PrimedStream
from bifrostc.runtime.errors import UpstreamError


def attempt(read_timeout: float) -> Attempt:
    prov = provider("up", "openai", read_timeout=read_timeout)
    target = config.Target(provider="up", model="m")
    return Attempt(config.Route(name="r", targets=(target,)), target, prov, None, None, 1)


async def items(count: int, then_stall: asyncio.Event | None = None) -> AsyncIterator[int]:
    for n in range(count):
        yield n
    if then_stall is not None:
        await then_stall.wait()


async def test_items_flow_and_a_stall_after_them_is_a_504() -> None:
    never = asyncio.Event()
    stream = PrimedStream(-1, items(3, never), attempt(read_timeout=0.05), time.monotonic() + 60)
    received = []
    with pytest.raises(UpstreamError) as caught:
        async for item in stream:
            received.append(item)
    await stream.aclose()
    assert received == [-1, 0, 1, 2]
    assert caught.value.status == 504 and "stalled" in caught.value.message


async def test_slow_consumer_is_not_an_upstream_stall() -> None:
    stream = PrimedStream(-1, items(3), attempt(read_timeout=0.02), time.monotonic() + 60)
    received = []
    async for item in stream:
        received.append(item)
        await asyncio.sleep(0.05)  # the client is slow: longer than read_timeout, but upstream is not waited on
    await stream.aclose()
    assert received == [-1, 0, 1, 2]


async def test_past_total_deadline_fails_at_the_next_item() -> None:
    stream = PrimedStream(-1, items(3), attempt(read_timeout=60), time.monotonic() - 1)
    assert await anext(stream) == -1
    with pytest.raises(UpstreamError) as caught:
        await anext(stream)
    await stream.aclose()
    assert caught.value.status == 504


async def test_outside_cancellation_stays_a_cancellation() -> None:
    never = asyncio.Event()
    stream = PrimedStream(-1, items(0, never), attempt(read_timeout=60), time.monotonic() + 60)
    waiting = asyncio.Event()

    async def consume() -> None:
        await anext(stream)
        waiting.set()
        await anext(stream)

    task = asyncio.create_task(consume())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
