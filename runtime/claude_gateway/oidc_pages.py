"""The verification page's single sign-on: ``POST /claude-code/oidc/start`` (the person confirmed the code and
chose their organization's sign-in) and ``GET /claude-code/oidc/callback`` (the IdP sends them back).

``start`` checks the origin and the code (pending, unexpired), keeps a single-use trip (state, nonce, PKCE
verifier) in the store, binds its state to this browser in a cookie and sends the browser to the IdP.
``callback`` takes the trip named by ``state`` (also the cookie's), exchanges the code, verifies the id_token
and maps the person's groups to a team; the code is then approved as that person (``oidc:<email or sub>``).
"""

from __future__ import annotations

import hmac
import html
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bifrostc.runtime.claude_gateway.device_page import page, same_origin
from bifrostc.runtime.claude_gateway.oauth import client_address, read_form
from bifrostc.runtime.claude_gateway.oidc import IdpError, pkce_pair
from bifrostc.runtime.claude_gateway.service import PREFIX, Endpoint, SignInService, origin
from bifrostc.runtime.claude_gateway.store import OidcState, Person

STATE_COOKIE = "bfc_oidc_state"
TRIP_TTL_S = 600


def _failed(message: str, status: int = 400) -> Response:
    return page(f'<h2 class="err">Sign-in failed</h2><p data-testid="error">{html.escape(message)}</p>', status)


def build(service: SignInService) -> tuple[Endpoint, Endpoint]:
    async def start(request: Request) -> Response:
        if service.oidc is None:
            return Response(status_code=404)
        if not same_origin(request):
            return _failed("This form must be sent from the gateway's own page.", 403)
        if not service.page_limit.allow(client_address(request), service.clock()):
            return _failed("Too many attempts from this address; wait a minute and try again.", 429)
        form = await read_form(request) or {}
        user_code = form.get("user_code", "")
        if not await service.store.is_pending(user_code, service.clock()):
            return _failed("No pending sign-in has that code (or it expired). Check the terminal.")
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        verifier, challenge = pkce_pair()
        redirect_uri = f"{origin(request)}{PREFIX}/oidc/callback"
        trip = OidcState(user_code, verifier, nonce, redirect_uri)
        await service.store.put_oidc_state(state, trip, service.clock() + TRIP_TTL_S)
        try:
            target = await service.oidc.authorize_url(redirect_uri, state, nonce, challenge)
        except IdpError as exc:
            return _failed(str(exc), 502)
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(
            STATE_COOKIE,
            state,
            max_age=TRIP_TTL_S,
            path=f"{PREFIX}/oidc",
            httponly=True,
            samesite="lax",  # sent on the IdP's top-level redirect back
            secure=request.url.scheme == "https",
        )
        return answer

    async def callback(request: Request) -> Response:
        if service.oidc is None:
            return Response(status_code=404)
        query = request.query_params
        state, cookie = query.get("state", ""), request.cookies.get(STATE_COOKIE, "")
        if not state or not hmac.compare_digest(state.encode(), cookie.encode()):
            return _failed("This sign-in was not started in this browser; start again from the device page.")
        trip = await service.store.take_oidc_state(state, service.clock())
        if trip is None:
            return _failed("This sign-in link was already used or has expired; start again from the device page.")
        if "error" in query or "code" not in query:
            return _failed(f"The identity provider did not sign you in ({query.get('error', 'no code')}).")
        try:
            person = await service.oidc.exchange(query["code"], trip.redirect_uri, trip.verifier, trip.nonce)
        except IdpError as exc:
            return _failed(str(exc))
        team = service.oidc.team_for(person.groups, service.keyring().gateway.teams)
        if team is None:
            return _failed("Your account is in no group that may use this gateway.", 403)
        now = service.clock()
        signed = Person(person.name, person.subject, person.email, team, person.refresh_token, now)
        await service.store.put_person(signed)
        if not await service.store.decide(trip.user_code, person.name, now):
            return _failed("No pending sign-in has that code (or it expired). Check the terminal.")
        who = html.escape(person.email or person.subject)
        answer = page(
            f'<h2 class="ok">Signed in</h2><p>Claude Code is signed in as <b>{who}</b> (team <b>{html.escape(team)}'
            "</b>). You can close this page and return to your terminal.</p>"
        )
        answer.delete_cookie(STATE_COOKIE, path=f"{PREFIX}/oidc")
        return answer

    return start, callback
