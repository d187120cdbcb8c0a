"""Sign-in through the organization's IdP on the verification page: authorization code + PKCE against a test
IdP started here, the id_token verified against its JWKS, the person's groups mapped to the spec's team; the
token then acts as that person (spend and log rows under ``oidc:<email>``, the team's budget), and losing the
group at the IdP ends the session at the next request."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.claude_gateway.idp import CLIENT_ID, CLIENT_SECRET, TestIdp, User
from tests.claude_gateway.signin import DEVICE_GRANT, bearer, signin_spec, start_device, token
from tests.conftest import running_server
from tests.integration.wired import Wired, compile_gateway, wired_server

pytestmark = pytest.mark.asyncio
ENV = {"IDP_CLIENT_ID": CLIENT_ID, "IDP_CLIENT_SECRET": CLIENT_SECRET}
MESSAGE = {"model": "echo", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


@contextlib.asynccontextmanager
async def gateway_with_idp(tmp_path: Path, **oidc: Any) -> AsyncIterator[tuple[Wired, TestIdp]]:
    idp = TestIdp()
    idp.users = {
        "alice@corp.example": User("u-alice", "alice@corp.example", ["eng-platform", "everyone"]),
        "carol@corp.example": User("u-carol", "carol@corp.example", ["everyone"]),
    }
    async with running_server(idp.app()) as idp_url:
        idp.issuer = idp_url
        spec = signin_spec(tmp_path)
        spec["teams"]["platform"] = {"budget": {"max_usd": 100}}
        spec["claude_code"]["sign_in"]["oidc"] = {
            "issuer": idp_url,
            "client_id_env": "IDP_CLIENT_ID",
            "client_secret_env": "IDP_CLIENT_SECRET",
            "groups_claim": "groups",
            "teams": {"eng-platform": "platform"},
            "recheck_seconds": 0,
            **oidc,
        }
        async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV) as wired:
            yield wired, idp


async def sso(wired: Wired, idp: TestIdp, email: str) -> tuple[dict[str, Any], httpx.Response]:
    """The person's browser: open the page, keep the code, press "Sign in with SSO", follow the redirects."""
    idp.current = email
    device = await start_device(wired.http, wired.url)
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
        page = await browser.get(device["verification_uri_complete"])
        assert page.status_code == 200 and 'data-testid="sso"' in page.text
        assert f"form-action 'self' {idp.issuer}" in page.headers["content-security-policy"]
        done = await browser.post(
            f"{wired.url}/claude-code/oidc/start",
            data={"user_code": device["user_code"]},
            headers={"origin": wired.url},
        )
    return device, done


async def test_a_person_signs_in_through_the_idp_and_spends_as_themselves(tmp_path: Path) -> None:
    async with gateway_with_idp(tmp_path) as (wired, idp):
        device, done = await sso(wired, idp, "alice@corp.example")
        assert done.status_code == 200, done.text
        assert "alice@corp.example" in done.text and "platform" in done.text
        assert [str(r.url.path) for r in done.history] == ["/claude-code/oidc/start", "/authorize"]
        tokens = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=device["device_code"])
        assert tokens.status_code == 200, tokens.text
        assert tokens.json()["email"] == "alice@corp.example"
        auth = bearer(tokens.json()["access_token"])
        reply = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=MESSAGE, headers=auth)
        assert reply.status_code == 200, reply.text
        [row] = await wired.logs(1)
        spend = await wired.spend()
        idp.users["alice@corp.example"].groups = ["everyone"]  # removed from the group at the IdP
        refused = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=MESSAGE, headers=auth)
        renewed = await token(
            wired.http, wired.url, grant_type="refresh_token", refresh_token=tokens.json()["refresh_token"]
        )
    assert (row["virtual_key"], row.get("team")) == ("oidc:alice@corp.example", "platform")
    team = next(b for b in spend["budgets"] if b["kind"] == "team" and b["name"] == "platform")
    assert team["spent_usd"] > 0
    assert refused.status_code == 401 and refused.headers["x-should-retry"] == "false"
    assert refused.json()["error"]["type"] == "authentication_error"
    assert renewed.status_code == 401 and renewed.json()["error"] == "invalid_grant"
    # recheck_seconds 0: the groups are read again at the token poll and at each request (the last one refused)
    assert idp.token_calls == ["authorization_code", "refresh_token", "refresh_token", "refresh_token"]


async def test_a_disabled_account_is_signed_out_at_the_next_request(tmp_path: Path) -> None:
    async with gateway_with_idp(tmp_path) as (wired, idp):
        device, done = await sso(wired, idp, "alice@corp.example")
        assert done.status_code == 200, done.text
        tokens = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=device["device_code"])
        auth = bearer(tokens.json()["access_token"])
        first = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=MESSAGE, headers=auth)
        idp.users["alice@corp.example"].disabled = True
        second = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=MESSAGE, headers=auth)
    assert first.status_code == 200, first.text
    assert second.status_code == 401 and second.headers["x-should-retry"] == "false"


async def test_someone_in_no_mapped_group_is_refused_and_the_code_stays_pending(tmp_path: Path) -> None:
    async with gateway_with_idp(tmp_path) as (wired, idp):
        device, done = await sso(wired, idp, "carol@corp.example")
        poll = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=device["device_code"])
    assert done.status_code == 403 and "no group" in done.text
    assert poll.json()["error"] == "authorization_pending"


async def test_a_callback_not_started_in_this_browser_or_replayed_is_refused(tmp_path: Path) -> None:
    async with gateway_with_idp(tmp_path) as (wired, idp):
        idp.current = "alice@corp.example"
        device = await start_device(wired.http, wired.url)
        async with httpx.AsyncClient(timeout=30) as browser:
            start = await browser.post(
                f"{wired.url}/claude-code/oidc/start",
                data={"user_code": device["user_code"]},
                headers={"origin": wired.url},
            )
            assert start.status_code == 303
            to_idp = await browser.get(start.headers["location"])
            callback = to_idp.headers["location"]
            async with httpx.AsyncClient(timeout=30) as other_browser:  # no state cookie: login CSRF
                stranger = await other_browser.get(callback)
            first = await browser.get(callback)
            browser.cookies.set("bfc_oidc_state", httpx.URL(callback).params["state"], path="/claude-code/oidc")
            replay = await browser.get(callback)
        cross_site = await wired.http.post(
            f"{wired.url}/claude-code/oidc/start",
            data={"user_code": device["user_code"]},
            headers={"origin": "https://evil.example"},
        )
    assert stranger.status_code == 400 and "not started in this browser" in stranger.text
    assert first.status_code == 200, first.text
    assert replay.status_code == 400 and "already used" in replay.text
    assert cross_site.status_code == 403


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")
async def test_in_headless_chromium_the_sso_button_leads_through_the_idp_back_to_signed_in(tmp_path: Path) -> None:
    """A real browser: the page's CSP lets the SSO form's redirect reach the IdP, the state cookie rides the
    IdP's redirect back (SameSite=Lax), and the page says who signed in."""
    from playwright.async_api import async_playwright, expect

    from tests.observability.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

    async with gateway_with_idp(tmp_path) as (wired, idp):
        idp.current = "alice@corp.example"
        device = await start_device(wired.http, wired.url)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(device["verification_uri_complete"])
                await expect(page.locator("#sso_user_code")).to_have_value(device["user_code"])
                await page.get_by_test_id("sso").click()
                await expect(page.locator("h2.ok")).to_have_text("Signed in", timeout=15_000)
                await expect(page.locator("main")).to_contain_text("alice@corp.example")
            finally:
                await browser.close()
        tokens = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=device["device_code"])
    assert tokens.status_code == 200 and tokens.json()["email"] == "alice@corp.example"
