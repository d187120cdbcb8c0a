"""One Responses request against the store: its input resolved before parsing, its answer kept after.

`begin` replaces every `item_reference` input item with the stored item and, for `previous_response_id`,
prepends the chain (the previous turn's whole input, then its output: OpenAI's rule; its `instructions` are not
carried over). The body that comes back is what the dialect parses, so every provider sees a plain stateless
request. With `store` true (OpenAI's default) the turn gets a fresh response id, and `remember` keeps the
response object the client was given under it; `store: false` keeps nothing.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bifrostc.runtime.errors import InvalidRequest, PreviousResponseNotFound, StoredNotFound
from bifrostc.runtime.responses_store import ResponseStore, Stored

if TYPE_CHECKING:
    from bifrostc.runtime.context import RequestContext

log = logging.getLogger("bifrostc.responses_store")
STATELESS = "server.responses_store is off: {field} is not supported; send the whole conversation in `input`"
_KEPT = frozenset({"completed", "incomplete"})  # a failed response is not continued from


def owner_of(ctx: RequestContext) -> str:
    """Who a stored response belongs to: the request's caller (the virtual key's name, else the salted label of
    the client's own credential, so two people without keys never read each other's); "" when neither."""
    return ctx.caller or ""


def not_found(resp_id: str) -> StoredNotFound:
    return StoredNotFound(f"Response with id '{resp_id}' not found.")


@dataclass(slots=True)
class Turn:
    store: ResponseStore
    owner: str
    id: str  # the response id this turn answers with
    input: list[dict[str, Any]]  # the whole input it saw, kept for the next turn's previous_response_id

    async def remember(self, response: dict[str, Any]) -> None:
        """Keep the response object sent to the client; a store failure is logged, never the client's."""
        if response.get("status") not in _KEPT or response.get("id") != self.id:
            return
        try:
            await self.store.put(self.owner, Stored(self.id, response, self.input))
        except Exception as exc:
            log.warning("response %s: storing it failed: %s", self.id, exc)


async def begin(store: ResponseStore | None, owner: str, body: dict[str, Any]) -> tuple[dict[str, Any], Turn | None]:
    """The body with stored state resolved, and the Turn that will keep its answer (None: nothing to keep)."""
    previous = body.get("previous_response_id")
    raw = body.get("input")
    references = isinstance(raw, list) and any(_is_reference(item) for item in raw)
    if store is None:
        if previous is not None:
            raise InvalidRequest(STATELESS.format(field="`previous_response_id`"))
        if references:
            raise InvalidRequest(STATELESS.format(field="`item_reference`"))
        return body, None
    if not isinstance(raw, str | list) or (previous is not None and not isinstance(previous, str)):
        return body, None  # parse_request names the wrong type
    items: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": raw}] if isinstance(raw, str) else []
    if isinstance(raw, list):
        items = [await _resolved(store, owner, item) if _is_reference(item) else item for item in raw]
    if isinstance(previous, str):
        chain = await store.get(owner, previous)
        if chain is None:
            raise PreviousResponseNotFound(f"Previous response with id '{previous}' not found.")
        items = [*chain.input, *chain.response.get("output", []), *items]
    resolved = {**body, "input": items} if previous is not None or references else body
    if body.get("store") is False:
        return resolved, None
    return resolved, Turn(store, owner, "resp_" + secrets.token_hex(24), items)


def _is_reference(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "item_reference"


async def _resolved(store: ResponseStore, owner: str, reference: dict[str, Any]) -> dict[str, Any]:
    item_id = reference.get("id")
    item = await store.item(owner, item_id) if isinstance(item_id, str) else None
    if item is None:
        raise StoredNotFound(
            f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. "
            "Try again with `store` set to true, or remove this item from your input.",
            param="input",
        )
    return item
