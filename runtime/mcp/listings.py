"""An upstream's cached listings: tools, prompts, resources and resource templates, one cache per kind.

A listing is refetched when it is older than the TTL or when the upstream announced a change (``*/list_changed``),
and only from upstreams that advertise the capability (a server without prompts never gets ``prompts/list``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import anyio
import mcp_types as types
from mcp.client import ClientSession
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged

Kind = Literal["tools", "prompts", "resources", "resource_templates"]
KINDS: tuple[Kind, ...] = ("tools", "prompts", "resources", "resource_templates")
MAX_PAGES = 100  # a paginator that never ends must not hang a listing

Page = types.ListToolsResult | types.ListPromptsResult | types.ListResourcesResult | types.ListResourceTemplatesResult
_Fetch = Callable[[ClientSession, types.PaginatedRequestParams | None], Awaitable[Any]]

# kind -> (request, the result field holding the items)
_FETCHERS: dict[Kind, tuple[_Fetch, str]] = {
    "tools": (lambda s, p: s.list_tools(params=p), "tools"),
    "prompts": (lambda s, p: s.list_prompts(params=p), "prompts"),
    "resources": (lambda s, p: s.list_resources(params=p), "resources"),
    "resource_templates": (lambda s, p: s.list_resource_templates(params=p), "resource_templates"),
}


def offered(capabilities: types.ServerCapabilities | None, kind: Kind) -> bool:
    """Whether a server with ``capabilities`` serves listings of ``kind``."""
    if capabilities is None:
        return False
    if kind == "tools":
        return capabilities.tools is not None
    if kind == "prompts":
        return capabilities.prompts is not None
    return capabilities.resources is not None


class ListenChanges(TypedDict):
    """``Client.listen`` keyword arguments (typed, so ``**`` keeps their types)."""

    tools_list_changed: bool
    prompts_list_changed: bool
    resources_list_changed: bool


def announces_changes(capabilities: types.ServerCapabilities | None) -> ListenChanges:
    """``Client.listen`` keyword arguments for every list the server says it announces changes of."""
    caps = capabilities or types.ServerCapabilities()
    return {
        "tools_list_changed": bool(caps.tools and caps.tools.list_changed),
        "prompts_list_changed": bool(caps.prompts and caps.prompts.list_changed),
        "resources_list_changed": bool(caps.resources and caps.resources.list_changed),
    }


def changed_kinds(message: object) -> tuple[Kind, ...]:
    """The listings a change notification (handshake era) or listen event (2026 era) invalidates."""
    if isinstance(message, types.ToolListChangedNotification | ToolsListChanged):
        return ("tools",)
    if isinstance(message, types.PromptListChangedNotification | PromptsListChanged):
        return ("prompts",)
    if isinstance(message, types.ResourceListChangedNotification | ResourcesListChanged):
        return ("resources", "resource_templates")
    return ()


async def fetch_all(session: ClientSession, kind: Kind) -> tuple[Any, ...]:
    """Every item of ``kind``, following ``next_cursor`` (at most ``MAX_PAGES`` pages)."""
    fetch, items_field = _FETCHERS[kind]
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page: Page = await fetch(session, params)
        items.extend(getattr(page, items_field))
        cursor = page.next_cursor
        if not cursor:
            break
    return tuple(items)


@dataclass(slots=True)
class Listing:
    """One kind's cached items; ``due`` says whether the next read must refetch."""

    items: tuple[Any, ...] = ()
    fetched_at: float = 0.0
    stale: bool = True
    lock: anyio.Lock = field(default_factory=anyio.Lock)

    def due(self, ttl: float) -> bool:
        return self.stale or time.monotonic() - self.fetched_at > ttl

    def store(self, items: tuple[Any, ...]) -> None:
        self.items = items
        self.fetched_at = time.monotonic()
