"""Requests for a fixed path go straight to their route: one dict lookup instead of Starlette's walk.

Starlette tries every route's regex in order, and the gateway's chat endpoints come after the extra routes (MCP,
dashboard, metrics, the admin API) and the health checks: ~17 matches per chat request. A route joins the table
only when its path has no parameters and no route before it could match that path, so the table never changes
which route serves a request; anything else (a parameterised path, a wrong method's 405, a mount) takes the walk.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


def _may_shadow(earlier: BaseRoute, route: Route) -> bool:
    for method in sorted(route.methods or {"GET"}):
        scope = {"type": "http", "path": route.path, "root_path": "", "method": method, "headers": []}
        try:
            if earlier.matches(scope)[0] is not Match.NONE:
                return True
        except Exception:  # a route that cannot judge a synthetic scope: assume it could match
            return True
    return False


def exact_table(routes: list[BaseRoute]) -> dict[str, Route]:
    table: dict[str, Route] = {}
    for index, route in enumerate(routes):
        if not isinstance(route, Route) or route.param_convertors or route.path in table:
            continue
        if not any(_may_shadow(earlier, route) for earlier in routes[:index]):
            table[route.path] = route
    return table


def serve_exact_paths(router: Router) -> None:
    """Put the table in front of ``router`` (its routes as they are now)."""
    table = exact_table(list(router.routes))
    walk = router.middleware_stack

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        route = table.get(scope["path"]) if scope["type"] == "http" and not scope.get("root_path") else None
        if route is None or (route.methods is not None and scope["method"] not in route.methods):
            await walk(scope, receive, send)
            return
        scope.setdefault("router", router)
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = dict(scope.get("path_params", {}))
        await route.handle(scope, receive, send)

    router.middleware_stack = dispatch
