"""Stored Responses: what a `store: true` answer on /v1/responses leaves behind for the key that asked.

A stored response is the Responses object the gateway returned to the client (whatever provider served it) and
the whole input that turn saw (its `previous_response_id` chain and item references already resolved). Its output
items, and input items that carry an `id`, are findable by id for `item_reference`. Everything is scoped to an
owner (the virtual key's name; "" for a gateway without keys): another key asking for the same id finds nothing.
Bounded by `server.responses_store` (`ttl_seconds`, `max_bytes`: the oldest go first). Embedded state keeps them
in SQLite next to the log database (`bifrostc.responses.db`), `state: redis` in Redis, shared by the replicas.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from bifrostc.runtime import config
from bifrostc.runtime.sqlite_db import sibling_path


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored response: the object returned to the client and the whole input of that turn."""

    id: str
    response: dict[str, Any]
    input: list[dict[str, Any]]

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(id, item) of every item an `item_reference` may name: the output, and input items with an id."""
        for item in (*self.input, *(self.response.get("output") or ())):
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
                yield item["id"], item

    def dumps(self) -> bytes:
        return orjson.dumps({"response": self.response, "input": self.input})

    @classmethod
    def loads(cls, resp_id: str, raw: bytes | str) -> Stored:
        data = orjson.loads(raw)
        return cls(resp_id, data["response"], data["input"])


class ResponseStore(Protocol):
    """Every call is scoped to `owner`. `put` replaces a response of the same id; expired ones are never found."""

    async def put(self, owner: str, stored: Stored) -> None: ...

    async def get(self, owner: str, resp_id: str) -> Stored | None: ...

    async def item(self, owner: str, item_id: str) -> dict[str, Any] | None: ...

    async def delete(self, owner: str, resp_id: str) -> bool: ...

    async def close(self) -> None: ...


def open_store(gateway: config.Gateway, environ: Mapping[str, str], *, sqlite_path: str | None) -> ResponseStore | None:
    """The store `server.responses_store` asks for (None when it is off): Redis with `state: redis`, else
    SQLite beside `sqlite_path` (in memory when that is None or ":memory:")."""
    server = gateway.server
    bounds = server.responses_store
    if not bounds.enabled:
        return None
    if server.state == "redis":
        from bifrostc.runtime import redis_client  # loads redis only when used
        from bifrostc.runtime.responses_store.redis import RedisResponseStore

        state = redis_client.settings(server)
        if state is None:
            raise ValueError("server.state is redis but neither server.redis nor server.redis_url_env is set")
        handle = redis_client.connect(state, environ, decode=False)
        return RedisResponseStore(handle.client, ttl_seconds=bounds.ttl_seconds, max_bytes=bounds.max_bytes)
    from bifrostc.runtime.responses_store.sqlite import SqliteResponseStore

    path = sibling_path(sqlite_path, "responses")
    return SqliteResponseStore(path, ttl_seconds=bounds.ttl_seconds, max_bytes=bounds.max_bytes)
