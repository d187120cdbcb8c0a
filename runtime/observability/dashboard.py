"""The request-log dashboard: one static page plus a small JSON API over a :class:`LogStore`.

Routes (mounted wherever the app likes): ``GET /`` and ``GET /logs`` serve ``dashboard_page/index.html`` (plain
JS, no build step, no CDN) which polls ``GET /api/logs``; ``GET /api/logs/{id}`` returns one record with its
bodies; ``GET /api/spend`` returns per-key spend from the log plus, when given, the governance report
(``Governor.spend_report``: rows with ``kind``, ``name``, ``limit_usd``, ``spent_usd``, ``period``);
``GET /api/probe`` returns the last ``bifrostc probe --out`` document (out/probe.json, read on each call so a
probe run next to a live gateway shows up at once), or ``{"probed_at": null, "routes": []}``.

When an admin key is configured every route needs it: an ``x-admin-key`` header, ``Authorization: Bearer``,
the session cookie, or ``?key=`` on the page once (which sets the cookie and redirects to drop the key from
the address bar and history).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bifrostc.runtime.observability.store import LogFilter, LogStore
from bifrostc.runtime.probe.results import load_probe

NONE = "'none'"
SpendReport = Callable[[], Awaitable[Any]]
ProbeFile = Callable[[], Path | None]  # where the served out/ keeps probe.json (None: not served from out/)
NO_PROBE: dict[str, Any] = {"probed_at": None, "routes": []}
COOKIE_NAME = "bifrostc_admin"
_PAGE = Path(__file__).parent / "dashboard_page" / "index.html"
_LOGIN_PAGE = """<!doctype html><meta charset="utf-8"><title>bifrostc dashboard</title>
<form method="get"><label>Admin key <input name="key" type="password" autofocus></label>
<button>Open</button></form>"""


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


def _cookie_token(admin_key: str) -> str:
    # The cookie carries a derived token, so the raw key never sits in the browser's cookie jar.
    return hashlib.sha256(b"bifrostc-dashboard:" + admin_key.encode()).hexdigest()


class _Guard:
    def __init__(self, admin_key: str | None) -> None:
        self.admin_key = admin_key
        self.token = _cookie_token(admin_key) if admin_key else ""

    def allows(self, request: Request) -> bool:
        if not self.admin_key:
            return True
        offered = request.headers.get("x-admin-key", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            offered = offered or auth[7:].strip()
        if offered and hmac.compare_digest(offered.encode(), self.admin_key.encode()):
            return True
        cookie = request.cookies.get(COOKIE_NAME, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.token.encode())

    def key_in_query(self, request: Request) -> bool:
        offered = request.query_params.get("key", "")
        return bool(self.admin_key) and hmac.compare_digest(offered.encode(), (self.admin_key or "").encode())


def _unauthorized(headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"error": "admin key required"}, status_code=401, headers=headers)


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
    )


def dashboard_routes(
    sink_store: LogStore,
    *,
    spend_report: SpendReport | None = None,
    admin_key: str | None = None,
    probe_file: ProbeFile | None = None,
) -> list[BaseRoute]:
    guard = _Guard(admin_key)
    page_html = _PAGE.read_text(encoding="utf-8")
    headers = security_headers(page_html)

    async def page(request: Request) -> Response:
        if guard.key_in_query(request):
            response = RedirectResponse(request.url.remove_query_params("key"), status_code=303, headers=headers)
            response.set_cookie(COOKIE_NAME, guard.token, httponly=True, samesite="strict", path="/")
            return response
        if not guard.allows(request):
            return HTMLResponse(_LOGIN_PAGE, status_code=401, headers=headers)
        return HTMLResponse(page_html, headers=headers)

    async def list_logs(request: Request) -> Response:
        if not guard.allows(request):
            return _unauthorized(headers)
        try:
            filters = _filters(request)
            rows = await sink_store.query(filters)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400, headers=headers)
        next_before = rows[-1]["seq"] if len(rows) == filters.limit else None
        return JSONResponse({"data": rows, "next_before": next_before}, headers=headers)

    async def log_detail(request: Request) -> Response:
        if not guard.allows(request):
            return _unauthorized(headers)
        row = await sink_store.get(request.path_params["record_id"])
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=headers)
        return JSONResponse(row, headers=headers)

    async def spend(request: Request) -> Response:
        if not guard.allows(request):
            return _unauthorized(headers)
        since = request.query_params.get("since")
        rows = await sink_store.spend_by_key(float(since) if since else None)
        report = await spend_report() if spend_report is not None else None
        return JSONResponse({"keys": rows, "budgets": report}, headers=headers)

    async def probe(request: Request) -> Response:
        if not guard.allows(request):
            return _unauthorized(headers)
        path = probe_file() if probe_file is not None else None
        document = load_probe(path) if path is not None else None
        return JSONResponse(document if document is not None else NO_PROBE, headers=headers)

    return [
        Route("/", page, methods=["GET"], name="dashboard"),
        Route("/logs", page, methods=["GET"], name="dashboard_logs"),
        Route("/api/logs", list_logs, methods=["GET"], name="api_logs"),
        Route("/api/logs/{record_id}", log_detail, methods=["GET"], name="api_log_detail"),
        Route("/api/spend", spend, methods=["GET"], name="api_spend"),
        Route("/api/probe", probe, methods=["GET"], name="api_probe"),
    ]
