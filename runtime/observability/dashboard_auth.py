"""Dashboard admin login: the key is POSTed by a form, checked, and exchanged for an HttpOnly session cookie.

The key never appears in a URL (history, proxy and access logs keep URLs). The cookie carries a token derived
from the key, so the raw key never sits in the browser's cookie jar. API callers send the key itself in an
``x-admin-key`` header or ``Authorization: Bearer``. The login POST is a same-origin form: the gateway's
cross-site POST guard refuses a foreign ``Origin`` before it gets here.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import urllib.parse

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

COOKIE_NAME = "bifrostc_admin"
MAX_FORM_BYTES = 4096
_LOGIN_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>bifrostc dashboard</title>
<style>body{{font:14px system-ui,sans-serif;background:#0f1115;color:#e6e6e6;display:grid;place-items:center;
height:100vh;margin:0}}form{{background:#171a21;border:1px solid #262b36;border-radius:6px;padding:20px;display:grid;
gap:10px}}input,button{{background:#0f1115;color:#e6e6e6;border:1px solid #262b36;border-radius:4px;padding:6px}}
.err{{color:#f85149}}</style>
<form method="post" action="{action}" data-testid="login">
<label>Admin key <input name="key" type="password" autocomplete="current-password" autofocus required></label>
<input type="hidden" name="next" value="{next}">{error}
<button type="submit">Sign in</button></form></html>"""


def cookie_token(admin_key: str) -> str:
    return hashlib.sha256(b"bifrostc-dashboard:" + admin_key.encode()).hexdigest()


class Guard:
    def __init__(self, admin_key: str | None) -> None:
        self.admin_key = admin_key
        self.token = cookie_token(admin_key) if admin_key else ""

    def is_key(self, offered: str) -> bool:
        return bool(self.admin_key) and hmac.compare_digest(offered.encode(), (self.admin_key or "").encode())

    def allows(self, request: Request) -> bool:
        if not self.admin_key:
            return True
        offered = request.headers.get("x-admin-key", "")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            offered = offered or auth[7:].strip()
        if offered and self.is_key(offered):
            return True
        cookie = request.cookies.get(COOKIE_NAME, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.token.encode())


def _login_action(request: Request) -> str:
    return request.url_for("dashboard_login").path


def login_page(
    request: Request, headers: dict[str, str], *, status_code: int, error: str = "", next_path: str | None = None
) -> HTMLResponse:
    """The sign-in form; after signing in the browser returns to the page it asked for."""
    body = _LOGIN_PAGE.format(
        action=html.escape(_login_action(request)),
        next=html.escape(next_path if next_path is not None else request.url.path),
        error=f'<p class="err" data-testid="login-error">{html.escape(error)}</p>' if error else "",
    )
    return HTMLResponse(body, status_code=status_code, headers=headers)


def _safe_next(value: str, fallback: str) -> str:
    # Only a path on this gateway: never another origin ("//evil", "https://...") or a scheme.
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else fallback


def login_route(guard: Guard, headers: dict[str, str]) -> Route:
    async def login(request: Request) -> Response:
        body = await request.body()
        form = urllib.parse.parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=4)
        offered, wanted = (form.get("key") or [""])[0], (form.get("next") or [""])[0]
        home = _login_action(request).removesuffix("login") or "/"
        target = _safe_next(wanted, home)
        if not guard.admin_key or not guard.is_key(offered):
            error = "That is not the admin key."
            return login_page(request, headers, status_code=401, error=error, next_path=target)
        response = RedirectResponse(target, status_code=303, headers=headers)
        response.set_cookie(COOKIE_NAME, guard.token, httponly=True, samesite="strict", path="/")
        return response

    return Route("/login", login, methods=["POST"], name="dashboard_login")
