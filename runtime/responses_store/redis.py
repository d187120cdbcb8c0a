"""Stored responses in Redis (`state: redis`): shared by every replica, so a chain may hop between them.

Keys (one hash tag, so the scripts run on one node of a Cluster too): ``r:<member>`` the response (EX ttl),
``i:<owner item>`` an item (EX ttl) naming its response, which must still be there for the item to be found;
``lru`` a sorted set of members by creation time, ``sizes`` their byte counts and ``total`` their sum. A put
drops expired members from the index and then the oldest while the total exceeds `max_bytes`; both scripts run
atomically. A member is ``<len(owner)>:<owner>:<id>``, so no owner's ids can spell another owner's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import redis.exceptions

from bifrostc.runtime import redis_client
from bifrostc.runtime.governance.store import StateUnavailable
from bifrostc.runtime.responses_store import Stored

PREFIX = "{bifrostc:responses}:"
_PUT = """
local prefix, ttl, now, size, max = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local member = ARGV[7]
local function drop(m)
  local s = redis.call('HGET', KEYS[2], m)
  if s then redis.call('DECRBY', KEYS[3], s) end
  redis.call('HDEL', KEYS[2], m)
  redis.call('ZREM', KEYS[1], m)
  redis.call('DEL', prefix .. 'r:' .. m)
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl * 1000)) do drop(m) end
drop(member)
redis.call('SET', prefix .. 'r:' .. member, ARGV[2], 'EX', ttl)
redis.call('ZADD', KEYS[1], now, member)
redis.call('HSET', KEYS[2], member, size)
redis.call('INCRBY', KEYS[3], size)
for i = 8, #ARGV, 2 do redis.call('SET', prefix .. 'i:' .. ARGV[i], ARGV[i + 1], 'EX', ttl) end
while tonumber(redis.call('GET', KEYS[3]) or '0') > max do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then break end
  drop(oldest[1])
end
"""
_DELETE = """
local existed = redis.call('DEL', ARGV[1] .. 'r:' .. ARGV[2])
local s = redis.call('HGET', KEYS[2], ARGV[2])
if s then redis.call('DECRBY', KEYS[3], s) end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
return existed
"""


def member(owner: str, resp_id: str) -> str:
    return f"{len(owner)}:{owner}:{resp_id}"


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    """Redis unreachable: the caller gets a 503 (StateUnavailable), as governance does with state: redis."""
    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise StateUnavailable(f"stored responses: Redis unreachable ({type(exc).__name__})") from exc


class RedisResponseStore:
    errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError,)

    def __init__(self, client: redis_client.Client, *, ttl_seconds: int, max_bytes: int, prefix: str = PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self.ttl_seconds, self.max_bytes = ttl_seconds, max_bytes
        self._index = [prefix + "lru", prefix + "sizes", prefix + "total"]

    async def put(self, owner: str, stored: Stored) -> None:
        body = stored.dumps()
        items: list[bytes | str] = []
        size = len(body)
        for item_id, item in stored.items():
            value = orjson.dumps({"response": stored.id, "item": item})
            items += [member(owner, item_id), value]
            size += len(value)
        now_ms = int(time.time() * 1000)
        args = [self._prefix, body, self.ttl_seconds, now_ms, size, self.max_bytes, member(owner, stored.id), *items]
        async with _reachable():
            await self._client.eval(_PUT, len(self._index), *self._index, *args)

    async def get(self, owner: str, resp_id: str) -> Stored | None:
        async with _reachable():
            raw = await self._client.get(self._prefix + "r:" + member(owner, resp_id))
        return None if raw is None else Stored.loads(resp_id, raw)

    async def item(self, owner: str, item_id: str) -> dict[str, Any] | None:
        async with _reachable():
            raw = await self._client.get(self._prefix + "i:" + member(owner, item_id))
            if raw is None:
                return None
            entry = orjson.loads(raw)
            if not await self._client.exists(self._prefix + "r:" + member(owner, entry["response"])):
                return None  # its response was deleted or evicted: the item went with it
        item: dict[str, Any] = entry["item"]
        return item

    async def delete(self, owner: str, resp_id: str) -> bool:
        async with _reachable():
            existed = await self._client.eval(
                _DELETE, len(self._index), *self._index, self._prefix, member(owner, resp_id)
            )
        return bool(existed)

    async def close(self) -> None:
        await self._client.aclose()
