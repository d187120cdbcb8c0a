"""Redis counter store: one Lua script checks every scope and counts the request atomically.

Redis runs a script without interleaving other commands, so gateway replicas sharing one Redis enforce one
budget exactly as a single process would. ``register_script`` sends EVALSHA and falls back to EVAL after a
script-cache flush. Counters carry TTLs per period window, so old windows clean themselves up.

Cluster: a script may only touch keys of one hash slot, so the Governor names every counter of an admission's
chain with the chain's hash tag (``{customer:acme}:key:alice:usd:...``, see governor.py) and every script here
receives keys of one tag only; reads that span tenants go node by node.

Failover: with ``replica_acks`` (default 1 under Sentinel and Cluster) each admission and settlement is
followed by ``WAIT`` on the same connection, and a settlement that was not acknowledged by a replica in time
raises :class:`NotReplicated`, so the caller keeps it and sends it again. After a promotion the new master
may have no replica left: a WAIT that timed out on a master reporting no connected replica turns WAITs off
for ``NO_REPLICA_BACKOFF_S`` (logged), so requests are not each held ``ack_timeout_ms`` while nothing can
acknowledge them; a master whose replicas merely lag keeps waiting (turning WAIT off there let a later kill
lose acknowledged spend). Settlements are idempotent (the
script records its settlement id next to the counters, in the same slot, and a second run is a no-op), so a
settlement sent again after a promotion is counted exactly once: no spend is lost and none is doubled.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from typing import Any

import redis.exceptions as redis_exceptions
from redis.asyncio.cluster import PipelineCommand, RedisCluster

from bifrostc.runtime import redis_client
from bifrostc.runtime.governance.store import Check, Hold, Increment, Lease, Rejection

# Check i: KEYS[3i-2] is its counter (concurrent checks: the set of leases), KEYS[3i-1] the previous window's
# (sliding rate limits; else the same key with weight 0), KEYS[3i] the counter's set of holds (spend checks).
# ARGV[4i-3..4i]: kind, limit, previous weight, TTL ("" = none); after them the hold's member, amount and TTL
# ("" = no hold), then the lease's member and TTL. Holds and leases are sorted sets scored by expiry (a hold's
# amount inside its member), so expired ones drop out by score.
# Returns 0 when admitted, else {index (1-based), value, current, previous} of the first failing check.
_CHECK_AND_COUNT = """
local n = #KEYS / 3
local member, amount, hold_ttl = ARGV[4 * n + 1], tonumber(ARGV[4 * n + 2]), tonumber(ARGV[4 * n + 3])
local lease, lease_ttl = ARGV[4 * n + 4], tonumber(ARGV[4 * n + 5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function held(holds)
  redis.call('ZREMRANGEBYSCORE', holds, '-inf', now)
  local total = 0
  for _, name in ipairs(redis.call('ZRANGE', holds, 0, -1)) do
    total = total + tonumber(string.match(name, '|(.*)$'))
  end
  return total
end
for i = 1, n do
  local kind = ARGV[4 * i - 3]
  local limit = tonumber(ARGV[4 * i - 2])
  local weight = tonumber(ARGV[4 * i - 1])
  local current, previous, ok = 0, 0, false
  if kind == 'concurrent' then
    redis.call('ZREMRANGEBYSCORE', KEYS[3 * i - 2], '-inf', now)
    current = redis.call('ZCARD', KEYS[3 * i - 2])
    ok = current + 1 <= limit
  else
    current = tonumber(redis.call('GET', KEYS[3 * i - 2]) or '0')
    if kind == 'spend' then
      previous = held(KEYS[3 * i])
      local value = current + previous
      ok = value < limit and (not amount or value + amount <= limit)
    else
      if weight > 0 then previous = tonumber(redis.call('GET', KEYS[3 * i - 1]) or '0') end
      local value = current + weight * previous
      if kind == 'requests' then ok = value + 1 <= limit else ok = value < limit end
    end
  end
  if not ok then
    local value = current + (kind == 'spend' and previous or weight * previous)
    return {i, tostring(value), tostring(current), tostring(previous)}
  end
end
for i = 1, n do
  local kind = ARGV[4 * i - 3]
  if kind == 'requests' then
    redis.call('INCR', KEYS[3 * i - 2])
    local ttl = tonumber(ARGV[4 * i])
    if ttl then redis.call('EXPIRE', KEYS[3 * i - 2], ttl) end
  elseif kind == 'spend' and amount then
    redis.call('ZADD', KEYS[3 * i], now + hold_ttl, member)
    redis.call('EXPIRE', KEYS[3 * i], hold_ttl + 60)
  elseif kind == 'concurrent' and lease_ttl then
    redis.call('ZADD', KEYS[3 * i - 2], now + lease_ttl, lease)
    redis.call('EXPIRE', KEYS[3 * i - 2], lease_ttl + 60)
  end
end
return 0
"""

# KEYS[1]: the settlement's marker (its id, remembered for an hour: a second run is a no-op); then the holds
# sets to drop ARGV[1] from, then the counters to add to. ARGV[2]: how many holds sets; then amount and TTL
# ("" = none) per counter. Returns 1 when applied, 0 when this settlement was applied before.
_SETTLE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', 3600) == false then return 0 end
local holds = tonumber(ARGV[2])
for i = 1, holds do redis.call('ZREM', KEYS[i + 1], ARGV[1]) end
for i = holds + 2, #KEYS do
  local at = 2 * (i - holds - 1) + 1
  redis.call('INCRBYFLOAT', KEYS[i], ARGV[at])
  local ttl = tonumber(ARGV[at + 1])
  if ttl then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
"""

# KEYS: the lease sets; ARGV[1]: the lease, ARGV[2]: "" to release it, else its TTL to renew it (if still live).
_LEASE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
for _, key in ipairs(KEYS) do
  if ARGV[2] == '' then
    redis.call('ZREM', key, ARGV[1])
  else
    local expiry = redis.call('ZSCORE', key, ARGV[1])
    if expiry and tonumber(expiry) > now then
      redis.call('ZADD', key, 'XX', now + tonumber(ARGV[2]), ARGV[1])
      redis.call('EXPIRE', key, tonumber(ARGV[2]) + 60)
    end
  end
end
return 0
"""
_HOLDS = ":holds"
log = logging.getLogger("bifrostc.governance")
NO_REPLICA_BACKOFF_S = 10.0
_TAG = re.compile(r"\{([^}]+)\}")
# Whatever a question to Redis may raise when it cannot be answered now (SlotNotCoveredError is no RedisError).
_UNANSWERED: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    redis_exceptions.RedisError,
    *redis_client.OUTAGE_ERRORS,
)


class NotReplicated(redis_exceptions.ConnectionError):
    """A write Redis applied but no replica acknowledged within ``ack_timeout_ms``: a failover now could lose it."""


def hash_tag(key: str) -> str:
    """The ``{...}`` part Redis Cluster hashes (empty when the key has none)."""
    match = _TAG.search(key)
    return match.group(0) if match else ""


class RedisCounterStore:
    errors: tuple[type[BaseException], ...] = redis_client.OUTAGE_ERRORS

    def __init__(self, handle: redis_client.RedisHandle, *, prefix: str = "bifrostc:gov:") -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("the governance key prefix must not hold a hash tag")
        self.handle = handle
        self._redis = handle.client
        self._prefix = prefix
        self._unreplicated_until = 0.0  # WAIT is off until then: no replica acknowledged the last one
        self._scripts = {
            name: self._redis.register_script(source)
            for name, source in (("check", _CHECK_AND_COUNT), ("settle", _SETTLE), ("lease", _LEASE))
        }

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "bifrostc:gov:") -> RedisCounterStore:
        return cls(redis_client.from_url(url, decode=True), prefix=prefix)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def _run(self, name: str, keys: list[str], args: list[str], *, durable: bool, strict: bool = True) -> Any:
        """Run a script; with ``durable`` and replica acks configured, WAIT for them on the same connection.
        Too few acks raise :class:`NotReplicated` when ``strict``, else are logged (the write is applied)."""
        script = self._scripts[name]
        acks = self.handle.replica_acks if durable and time.monotonic() >= self._unreplicated_until else 0
        if acks <= 0:
            return await script(keys=keys, args=args)
        if isinstance(self._redis, RedisCluster):
            result, acked = await self._cluster_wait(name, keys, args)
        else:
            result, acked = await self._pipeline_wait(name, keys, args, acks)
        if int(acked) < acks:
            message = f"{acked} of {acks} replicas acknowledged within {self.handle.ack_timeout_ms} ms"
            if await self._replicas_connected(keys[0]) == 0:
                # A promoted master with no replica yet: nothing can acknowledge, and nothing can fail over to
                # lose the write. Stop holding every request for the ack timeout until one is back.
                self._unreplicated_until = time.monotonic() + NO_REPLICA_BACKOFF_S
                log.warning("redis: %s; no replica: not waiting for %.0f s", message, NO_REPLICA_BACKOFF_S)
            else:  # replicas exist but lag: keep waiting (turning WAIT off here is how a failover lost spend)
                log.warning("redis: %s", message)
            if strict:
                raise NotReplicated(message)
        return result

    async def _pipeline_wait(self, name: str, keys: list[str], args: list[str], acks: int) -> tuple[Any, Any]:
        """EVALSHA then WAIT on one connection. redis-py loads the script before the pipeline, but retries the
        pipeline itself on a fresh connection: after a promotion that is a master without the script (NOSCRIPT,
        sent again once). A WAIT blocked on a master that is demoted is unblocked with an error: an outage."""
        assert not isinstance(self._redis, RedisCluster)
        for attempt in range(2):
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    await self._scripts[name](keys=keys, args=args, client=pipe)
                    pipe.wait(acks, self.handle.ack_timeout_ms)
                    result, acked = await pipe.execute()
                    return result, acked
            except redis_exceptions.NoScriptError:
                if attempt:
                    raise
            except redis_exceptions.ResponseError as exc:
                if str(exc).startswith("UNBLOCKED"):
                    raise redis_exceptions.ConnectionError(f"redis master demoted mid-WAIT: {exc}") from exc
                raise
        raise AssertionError("unreachable")

    async def _replicas_connected(self, key: str) -> int:
        """How many replicas the master owning ``key`` has (-1: it could not say)."""
        try:
            if isinstance(self._redis, RedisCluster):
                node = self._redis.get_node_from_key(key)
                info = await self._redis.info("replication", target_nodes=node)
            else:
                info = await self._redis.info("replication")
        except _UNANSWERED:  # mid-failover: it cannot say
            return -1
        return int(info.get("connected_slaves", 0)) if isinstance(info, dict) else -1

    async def _cluster_wait(self, name: str, keys: list[str], args: list[str]) -> tuple[Any, Any]:
        """EVALSHA then WAIT on one connection of the node that owns the keys' slot."""
        assert isinstance(self._redis, RedisCluster)
        script = self._scripts[name]
        node = self._redis.get_node_from_key(keys[0])
        if node is None:
            await self._refresh_slots()
            raise redis_exceptions.ClusterDownError(f"no node serves the slot of {keys[0]!r}")
        outage: tuple[type[BaseException], ...] = (OSError, *self.errors)
        for _ in range(2):
            commands = [
                PipelineCommand(0, "EVALSHA", script.sha, len(keys), *keys, *args),
                PipelineCommand(1, "WAIT", self.handle.replica_acks, self.handle.ack_timeout_ms),
            ]
            try:
                await node.execute_pipeline(commands)
            except outage:
                await self._refresh_slots()  # the node is gone: learn the new slot owners
                raise
            result, acked = commands[0].result, commands[1].result
            failed = next((r for r in (result, acked) if isinstance(r, outage)), None)
            if failed is not None:  # redis-py 8 hands a connection lost mid-pipeline back as a result
                await self._refresh_slots()
                raise failed
            if isinstance(result, redis_exceptions.NoScriptError):
                await node.execute_command("SCRIPT", "LOAD", script.script)
                continue
            if isinstance(result, redis_exceptions.AskError):  # MOVED too: the slot has a new owner
                await self._refresh_slots()
                raise redis_exceptions.TryAgainError(str(result))
            if isinstance(result, BaseException):
                raise result
            if isinstance(acked, BaseException):
                raise acked
            return result, acked
        raise redis_exceptions.NoScriptError("script could not be loaded")

    async def _refresh_slots(self) -> None:
        """Re-read the cluster's slot map (after a failover); a cluster that cannot answer yet is retried later."""
        assert isinstance(self._redis, RedisCluster)
        try:
            await self._redis.nodes_manager.initialize()
        except (OSError, redis_exceptions.RedisError, redis_exceptions.RedisClusterException) as exc:
            log.warning("redis cluster: slot map refresh failed, retried on the next call: %s", exc)

    async def check_and_count(
        self, checks: Sequence[Check], hold: Hold | None = None, lease: Lease | None = None
    ) -> Rejection | None:
        if not checks:
            return None
        keys: list[str] = []
        args: list[str] = []
        for check in checks:
            weight = check.previous_weight if check.previous_key is not None else 0.0
            counter = self._key(check.key)
            keys += [counter, self._key(check.previous_key or check.key), counter + _HOLDS]
            args += [
                check.kind,
                repr(float(check.limit)),
                repr(float(weight)),
                "" if check.ttl is None else str(check.ttl),
            ]
        args += ["", "", ""] if hold is None else [hold.member, repr(float(hold.amount)), str(hold.ttl)]
        args += ["", ""] if lease is None else [lease.id, str(lease.ttl)]
        # Durable only when it placed something a lost write would let another request overspend.
        # An admission Redis applied stands even when no replica acknowledged it in time (only logged).
        placed = hold is not None or lease is not None
        result = await self._run("check", keys, args, durable=placed, strict=False)
        if result == 0:
            return None
        index, value, current, previous = result
        return Rejection(int(index) - 1, float(value), float(current), float(previous))

    async def settle(
        self, hold: Hold | None, keys: Sequence[str], increments: Sequence[Increment], settlement: str | None = None
    ) -> None:
        """``settlement`` names this settlement for idempotency (default: the hold's id, else random); every key
        must share one hash tag under Cluster."""
        holds = [self._key(key) + _HOLDS for key in keys] if hold is not None else []
        if not holds and not increments:
            return
        counters = [self._key(i.key) for i in increments]
        sid = settlement or (hold.id if hold is not None else os.urandom(12).hex())
        marker = f"{self._prefix}{hash_tag((holds or counters)[0])}:settled:{sid}"
        args = [hold.member if hold is not None else "", str(len(holds))]
        for increment in increments:
            args += [repr(float(increment.amount)), "" if increment.ttl is None else str(increment.ttl)]
        await self._run("settle", [marker, *holds, *counters], args, durable=True)

    async def add(self, increments: Sequence[Increment]) -> None:
        await self.settle(None, (), increments)

    async def release(self, lease: Lease, keys: Sequence[str]) -> None:
        if keys:
            await self._run("lease", [self._key(key) for key in keys], [lease.id, ""], durable=False)

    async def renew(self, leases: Sequence[tuple[Lease, Sequence[str]]]) -> None:
        for lease, keys in leases:  # one script per lease: its keys share a slot, other leases' may not
            if keys:
                await self._run("lease", [self._key(key) for key in keys], [lease.id, str(lease.ttl)], durable=False)

    async def read(self, keys: Sequence[str]) -> list[float]:
        if not keys:
            return []
        names = [self._key(key) for key in keys]
        if isinstance(self._redis, RedisCluster):
            values = await self._redis.mget_nonatomic(names)  # keys of many tenants: node by node
        else:
            values = await self._redis.mget(names)
        return [float(value) if value is not None else 0.0 for value in values]

    async def healthy(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except _UNANSWERED:
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()
