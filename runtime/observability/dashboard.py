"""The dashboard: three static pages plus a small JSON API over a :class:`LogStore`.

Routes (mounted wherever the app likes): ``GET /`` serves ``dashboard_page/overview.html`` (charts over a time
range from ``GET /api/overview?since=&until=&buckets=``, spend against every budget) and ``GET /logs`` serves
``dashboard_page/index.html`` (plain JS, no build step, no CDN), which polls ``GET /api/logs`` (``?session=ID``:
one session's rows); ``GET /sessions`` serves ``dashboard_page/sessions.html``, coding-agent sessions from
``GET /api/sessions?since=`` (``sessions.session_list``) and ``GET /api/sessions/{id}``, one session's rows as
a tree of its agents with totals (``sessions.session_tree``; a ``telemetry`` field, when present, is shown too);
``GET /api/logs/{id}`` returns one record with its bodies; ``GET /api/spend``
returns per-key spend from the log plus, when given, the governance report (``Governor.spend_report``: rows
with ``kind``, ``name``, ``limit_usd``, ``spent_usd``, ``period``);
``GET /api/probe`` returns the last ``bifrostc probe --out`` document (out/probe.json, read on each call so a
probe run next to a live gateway shows up at once), or ``{"probed_at": null, "routes": []}``.

When an admin key is configured every route needs it: an ``x-admin-key`` header, ``Authorization: Bearer``,
or the session cookie that ``POST /login`` (the login page's form) sets; the key never travels in a URL
(``dashboard_auth.py``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bifrostc.runtime.observability.dashboard_auth import COOKIE_NAME, Guard, login_page, login_route
from bifrostc.runtime.observability.overview import overview
from bifrostc.runtime.observability.sessions import session_list, session_tree
from bifrostc.runtime.observability.store import MAX_LIMIT, LogFilter, LogStore
from bifrostc.runtime.probe.results import load_probe

NONE = "'none'"
SpendReport = Callable[[], Awaitable[Any]]
ToolCalls = Callable[[], list[dict[str, Any]]]  # this replica's MCP tool calls (GatewayMetrics.usage)
SessionTelemetry = Callable[[str], Awaitable[dict[str, Any] | None]]  # what Claude Code reported (OTLP)
ProbeFile = Callable[[], Path | None]  # where the served out/ keeps probe.json (None: not served from out/)
NO_PROBE: dict[str, Any] = {"probed_at": None, "routes": []}
_PAGES = Path(__file__).parent / "dashboard_page"
COMMON_MARK = "/* @common.js */"
DAY_S = 86_400.0
Handler = Callable[[Request], Awaitable[Response]]
__all__ = ["COOKIE_NAME", "dashboard_routes", "security_headers"]


def security_headers(page_html: str) -> dict[str, str]:
    """Headers for every dashboard answer: no framing (clickjacking), no MIME sniffing, and a CSP that lets the
    page run only its own inline script (by hash) and talk only to its own origin, so an XSS in a logged prompt
    can neither load nor send anything."""
    scripts = re.findall(r"<script>(.*?)</script>", page_html, flags=re.DOTALL)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    csp = (
        f"default-src 'none'; script-src {hashes or NONE}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "content-security-policy": csp,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
    }


def _int_param(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    return int(raw)


def _filters(request: Request) -> LogFilter:
    q = request.query_params
    since = q.get("since")
    return LogFilter(
        model=q.get("model") or None,
        key=q.get("key") or None,  # a virtual key *name*; the admin key is never a query filter here
        provider=q.get("provider") or None,
        status=q.get("status") or None,
        since=float(since) if since else None,
        limit=_int_param(request, "limit", 100) or 100,
        before_id=_int_param(request, "before", None),
        session=q.get("session") or None,
    )


def _session_endpoint(
    sink_store: LogStore, headers: dict[str, str], session_telemetry: SessionTelemetry | None
) -> Handler:
    """One session's rows as a tree of its agents, with ``telemetry``: Claude Code's own figures for it (its OTLP
    exports to /claude-code), null when none. A session with neither is a 404."""

    async def session(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        rows = await sink_store.query(LogFilter(session=session_id, limit=MAX_LIMIT))
        reported = await session_telemetry(session_id) if session_telemetry is not None else None
        if not rows and reported is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=headers)
        tree = session_tree(session_id, rows, truncated=len(rows) == MAX_LIMIT)
        return JSONResponse({**tree, "telemetry": reported}, headers=headers)

    return session


def _sessions_endpoint(sink_store: LogStore, headers: dict[str, str]) -> Handler:
    """Recent sessions (from the newest MAX_LIMIT rows since ``?since=``), the latest active first."""

    async def sessions(request: Request) -> Response:
        since = request.query_params.get("since")
        try:
            rows = await sink_store.query(LogFilter(since=float(since) if since else None, limit=MAX_LIMIT))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=headers)
        return JSONResponse({"data": session_list(rows), "truncated": len(rows) == MAX_LIMIT}, headers=headers)

    return sessions


def _page(name: str) -> str:
    """A page with the helpers every page shares (``common.js``) inlined where it says so."""
    common = (_PAGES / "common.js").read_text(encoding="utf-8")
    return (_PAGES / name).read_text(encoding="utf-8").replace(COMMON_MARK, common, 1)


def dashboard_routes(
    sink_store: LogStore,
    *,
    spend_report: SpendReport | None = None,
    admin_key: str | None = None,
    probe_file: ProbeFile | None = None,
    tool_calls: ToolCalls | None = None,
    session_telemetry: SessionTelemetry | None = None,
) -> list[BaseRoute]:
    guard = Guard(admin_key)
    pages = {name: _page(name) for name in ("index.html", "overview.html", "sessions.html")}
    page_headers = {name: security_headers(html) for name, html in pages.items()}
    headers = page_headers["index.html"]

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            if not guard.allows(request):
                return JSONResponse({"error": "admin key required"}, status_code=401, headers=headers)
            return await handler(request)

        return endpoint

    def serve(name: str) -> Handler:
        async def page(request: Request) -> Response:
            if not guard.allows(request):
                return login_page(request, headers, status_code=401)
            return HTMLResponse(pages[name], headers=page_headers[name])

        return page

    async def list_logs(request: Request) -> Response:
        try:
            filters = _filters(request)
            rows = await sink_store.query(filters)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=headers)
        next_before = rows[-1]["seq"] if len(rows) == filters.limit else None
        return JSONResponse({"data": rows, "next_before": next_before}, headers=headers)

    async def log_detail(request: Request) -> Response:
        row = await sink_store.get(request.path_params["record_id"])
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=headers)
        return JSONResponse(row, headers=headers)

    session = _session_endpoint(sink_store, headers, session_telemetry)
    sessions = _sessions_endpoint(sink_store, headers)

    async def spend(request: Request) -> Response:
        since = request.query_params.get("since")
        rows = await sink_store.spend_by_key(float(since) if since else None)
        report = await spend_report() if spend_report is not None else None
        return JSONResponse({"keys": rows, "budgets": report}, headers=headers)

    async def overview_api(request: Request) -> Response:
        q = request.query_params
        try:
            until = float(q.get("until") or time.time())
            since = float(q.get("since") or until - DAY_S)
            document = await overview(sink_store, since=since, until=until, buckets=int(q.get("buckets") or 24))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=headers)
        document["mcp_tool_calls"] = tool_calls() if tool_calls is not None else []
        return JSONResponse(document, headers=headers)

    async def probe(request: Request) -> Response:
        path = probe_file() if probe_file is not None else None
        document = load_probe(path) if path is not None else None
        return JSONResponse(document if document is not None else NO_PROBE, headers=headers)

    return [
        Route("/", serve("overview.html"), methods=["GET"], name="dashboard"),
        Route("/logs", serve("index.html"), methods=["GET"], name="dashboard_logs"),
        Route("/sessions", serve("sessions.html"), methods=["GET"], name="dashboard_sessions"),
        login_route(guard, headers),
        Route("/api/overview", guarded(overview_api), methods=["GET"], name="api_overview"),
        Route("/api/logs", guarded(list_logs), methods=["GET"], name="api_logs"),
        Route("/api/logs/{record_id}", guarded(log_detail), methods=["GET"], name="api_log_detail"),
        Route("/api/sessions", guarded(sessions), methods=["GET"], name="api_sessions"),
        Route("/api/sessions/{session_id}", guarded(session), methods=["GET"], name="api_session"),
        Route("/api/spend", guarded(spend), methods=["GET"], name="api_spend"),
        Route("/api/probe", guarded(probe), methods=["GET"], name="api_probe"),
    ]
