"""The verification page (RFC 8628 §3.3) at /claude-code/device: the developer confirms the user code their
terminal shows and pastes a virtual key; the device code is then approved, bound to that key.

The code from ``verification_uri_complete`` is only pre-filled, never submitted for the user (§5.4: a code
phished into a link must still be confirmed by a person). The POST is refused unless it comes from this
origin (a page elsewhere cannot approve codes with a key the browser autofills), and each address gets a few
attempts a minute (§5.1, against guessing codes).
"""

from __future__ import annotations

import html
import pathlib
import string
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bifrostc.runtime.claude_gateway.oauth import client_address, read_form
from bifrostc.runtime.claude_gateway.service import PREFIX, Endpoint, SignInService, origin
from bifrostc.runtime.claude_gateway.store import normal_user_code

_PAGE = string.Template((pathlib.Path(__file__).parent / "device.html").read_text(encoding="utf-8"))
_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
    # same-origin: the form posts carry this Origin (under no-referrer Chromium sends "Origin: null"), and the
    # IdP or any other site is sent no referrer (the user code is in this page's URL)
    "referrer-policy": "same-origin",
}


def page(body: str, status: int = 200, idp_origin: str | None = None) -> HTMLResponse:
    """The page around ``body``; ``idp_origin`` is where the SSO form's redirect may lead (CSP form-action
    governs the redirects after a form post too)."""
    headers = dict(_HEADERS)
    if idp_origin:
        headers["content-security-policy"] = headers["content-security-policy"].replace(
            "form-action 'self'", f"form-action 'self' {idp_origin}"
        )
    return HTMLResponse(_PAGE.substitute(body=body), status_code=status, headers=headers)


def _sso(user_code: str, issuer: str) -> str:
    """The second way to prove who you are: the organization's sign-in (the code is confirmed here too)."""
    return f"""<hr>
    <form method="post" action="{PREFIX}/oidc/start" autocomplete="off">
      <p>Or sign in with your organization's account ({html.escape(issuer)}).</p>
      <label for="sso_user_code">Code</label>
      <input id="sso_user_code" name="user_code" value="{html.escape(user_code)}" placeholder="XXXX-XXXX" required>
      <div class="actions"><button class="primary" type="submit" data-testid="sso">Sign in with SSO</button></div>
    </form>"""


def _form(user_code: str, message: str = "", issuer: str | None = None) -> str:
    notice = f'<p class="err" data-testid="error">{html.escape(message)}</p>' if message else ""
    sso = _sso(user_code, issuer) if issuer else ""
    return f"""<h2>Approve a Claude Code sign-in</h2>
    <p>Check that the code matches the one your terminal shows, then paste your gateway virtual key.</p>
    {notice}
    <form method="post" action="{PREFIX}/device" autocomplete="off">
      <label for="user_code">Code</label>
      <input id="user_code" name="user_code" value="{html.escape(user_code)}" placeholder="XXXX-XXXX" required>
      <label for="virtual_key">Virtual key</label>
      <input id="virtual_key" name="virtual_key" type="password" placeholder="sk-bfc-..." required>
      <div class="actions">
        <button class="primary" type="submit" name="action" value="approve">Approve</button>
        <button type="submit" name="action" value="deny" formnovalidate>Deny</button>
      </div>
    </form>{sso}"""


def _display_code(text: str) -> str:
    code = normal_user_code(text)
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def same_origin(request: Request) -> bool:
    """The browser's Origin (or, from older browsers, the Referer's origin) is this page's own."""
    sent = request.headers.get("origin")
    if sent is None and (referer := request.headers.get("referer")):
        parts = urlsplit(referer)
        sent = f"{parts.scheme}://{parts.netloc}"
    return sent == origin(request)


def build(service: SignInService) -> tuple[Endpoint, Endpoint]:
    async def show(request: Request) -> Response:
        code = _display_code(request.query_params.get("user_code", ""))
        if service.oidc is None:
            return page(_form(code))
        return page(_form(code, issuer=service.oidc.issuer), idp_origin=await service.oidc.authorize_origin())

    async def submit(request: Request) -> Response:
        if not same_origin(request):
            return page('<h2 class="err">Refused</h2><p>This form must be sent from the gateway\'s own page.</p>', 403)
        if not service.page_limit.allow(client_address(request), service.clock()):
            return page(_form("", "Too many attempts from this address; wait a minute and try again."), 429)
        form = await read_form(request) or {}
        code = form.get("user_code", "")
        if form.get("action") == "deny":
            await service.store.decide(code, None, service.clock())
            return page("<h2>Sign-in denied</h2><p>The terminal that asked will stop waiting.</p>")
        key = service.key_for_value(form.get("virtual_key", ""))
        if key is None:
            return page(_form(code, "That virtual key is not valid on this gateway."), 400)
        if not await service.store.decide(code, key.key_name, service.clock()):
            return page(_form(code, "No pending sign-in has that code (or it expired). Check the terminal."), 400)
        name = html.escape(key.key_name)
        return page(
            f'<h2 class="ok">Signed in</h2><p>Claude Code is signed in as key <b>{name}</b>. '
            "You can close this page and return to your terminal.</p>"
        )

    return show, submit
