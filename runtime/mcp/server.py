"""The SDK low-level server the gateway serves: capabilities that follow the upstreams, and change fan-out.

Capabilities. ``prompts`` and ``resources`` are advertised only while at least one upstream offers them (as last
seen when it connected); ``tools`` always. ``resources.subscribe`` is never advertised: per-resource
subscriptions are not forwarded.

Change notifications. When an upstream announces ``notifications/{tools,prompts,resources}/list_changed``, or
connects or drops, its cached listing is marked stale, so the next listing through the gateway refetches it
whatever the TTL. The gateway serves stateless streamable HTTP, so there is no session to push to at the
handshake-era protocol versions (Claude Code's today); clients on the 2026-07-28 protocol get a
``*/list_changed`` on their ``subscriptions/listen`` stream, through the SDK's own ``ListenHandler``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mcp_types as types
from anyio.abc import TaskGroup
from mcp.server.lowlevel import Server
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ServerEvent,
    ToolsListChanged,
)

from bifrostc.runtime.mcp.listings import Kind, offered
from bifrostc.runtime.mcp.upstream import Upstream

_EVENTS: dict[Kind, ServerEvent] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
    "resource_templates": ResourcesListChanged(),
}


class GatewayServer(Server[Any]):
    """``Server`` whose advertised capabilities follow what the upstreams offer."""

    def __init__(self, name: str, upstreams: Sequence[Upstream], **handlers: Any) -> None:
        super().__init__(name, **handlers)
        self._upstreams = upstreams

    def get_capabilities(self, *args: Any, **kwargs: Any) -> types.ServerCapabilities:
        # The SDK derives capabilities from the registered handlers, for `initialize` and `server/discover` alike.
        capabilities = super().get_capabilities(*args, **kwargs)
        update: dict[str, Any] = {}
        if not any(offered(upstream.capabilities, "prompts") for upstream in self._upstreams):
            update["prompts"] = None
        if not any(offered(upstream.capabilities, "resources") for upstream in self._upstreams):
            update["resources"] = None
        elif capabilities.resources is not None:
            update["resources"] = capabilities.resources.model_copy(update={"subscribe": False})
        return capabilities.model_copy(update=update)


class ChangeFanout:
    """Turns upstream listing changes into list_changed events on the gateway's listen streams."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self.listen_handler = ListenHandler(self.bus)
        self._task_group: TaskGroup | None = None

    def start(self, task_group: TaskGroup) -> None:
        self._task_group = task_group

    def stop(self) -> None:
        """End every open listen stream gracefully (clients re-listen and refetch)."""
        self._task_group = None
        self.listen_handler.close()

    def upstream_changed(self, server: str, kinds: tuple[Kind, ...]) -> None:
        """Upstream's ``on_change``: synchronous, so publishing runs in the gateway's task group."""
        task_group = self._task_group
        if task_group is None:
            return
        for event in dict.fromkeys(_EVENTS[kind] for kind in kinds):
            task_group.start_soon(self.bus.publish, event)
