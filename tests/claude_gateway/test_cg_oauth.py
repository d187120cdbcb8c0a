"""The sign-in endpoints of Claude Code's gateway protocol, at the HTTP surface of the wired gateway."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

from tests.claude_gateway.signin import ALICE, BOB, DEVICE_GRANT, UA, approve, bearer, sign_in, start_device, token

GRANT_TYPES = [DEVICE_GRANT, "refresh_token"]


async def test_discovery_names_same_origin_endpoints_and_no_authorization_endpoint(serve):
    async with serve() as wired:
        response = await wired.http.get(f"{wired.url}/claude-code/.well-known/oauth-authorization-server", headers=UA)
    meta = response.json()
    assert response.status_code == 200
    base = f"{wired.url}/claude-code"
    assert meta["issuer"] == base
    assert meta["device_authorization_endpoint"] == f"{base}/oauth/device_authorization"
    assert meta["token_endpoint"] == f"{base}/oauth/token"
    assert meta["revocation_endpoint"] == f"{base}/oauth/revoke"
    assert meta["grant_types_supported"] == GRANT_TYPES
    assert "authorization_endpoint" not in meta


async def test_behind_a_tls_terminating_proxy_the_advertised_urls_are_https(serve):
    async with serve() as wired:  # the test client is on 127.0.0.1, which uvicorn trusts for X-Forwarded-*
        # (a name the Host check serves without server.allowed_hosts: browsers keep *.localhost on loopback)
        forwarded = {"x-forwarded-proto": "https", "host": "gw.localhost", **UA}
        meta = await wired.http.get(
            f"{wired.url}/claude-code/.well-known/oauth-authorization-server", headers=forwarded
        )
        device = await wired.http.post(f"{wired.url}/claude-code/oauth/device_authorization", headers=forwarded)
    assert meta.json()["token_endpoint"] == "https://gw.localhost/claude-code/oauth/token"
    assert device.json()["verification_uri"] == "https://gw.localhost/claude-code/device"


async def test_device_authorization_answers_rfc8628_fields_and_ignores_unknown_params(serve):
    async with serve(login_notice="Use your team key") as wired:
        response = await wired.http.post(
            f"{wired.url}/claude-code/oauth/device_authorization",
            data={"surface": "claude_code", "some_future_param": "x", "scope": "whatever"},
            headers=UA,
        )
    body = response.json()
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert len(body["device_code"]) >= 43  # 32 random bytes, base64url
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", body["user_code"])
    assert body["verification_uri"] == f"{wired.url}/claude-code/device"
    assert body["verification_uri_complete"] == f"{wired.url}/claude-code/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    assert body["login_notice"] == "Use your team key"


async def test_device_authorization_is_limited_per_address(serve):
    async with serve() as wired:
        statuses = [
            (await wired.http.post(f"{wired.url}/claude-code/oauth/device_authorization")).status_code
            for _ in range(21)
        ]
        last = await wired.http.post(f"{wired.url}/claude-code/oauth/device_authorization")
    assert statuses[:20] == [200] * 20
    assert last.status_code == 429 and last.json()["error"] == "slow_down"


async def test_device_grant_pending_slow_down_approved_then_single_use(serve, clock):
    async with serve() as wired:
        device = await start_device(wired.http, wired.url)
        poll = {"grant_type": DEVICE_GRANT, "device_code": device["device_code"]}
        first = await token(wired.http, wired.url, **poll)
        too_fast = await token(wired.http, wired.url, **poll)
        clock.offset += 10  # the interval is now 10 s (5 + 5 for the slow_down)
        still_pending = await token(wired.http, wired.url, **poll)
        page = await wired.http.get(device["verification_uri_complete"])
        assert (await approve(wired.http, device["verification_uri_complete"], ALICE)).status_code == 200
        clock.offset += 10
        granted = await token(wired.http, wired.url, **poll)
        clock.offset += 10
        again = await token(wired.http, wired.url, **poll)
    assert (first.status_code, first.json()["error"]) == (400, "authorization_pending")
    assert (too_fast.status_code, too_fast.json()["error"]) == (400, "slow_down")
    assert still_pending.json()["error"] == "authorization_pending"
    assert "<form" in page.text and device["user_code"] in page.text and "<script" not in page.text  # no auto-submit
    tokens = granted.json()
    assert granted.status_code == 200 and granted.headers["cache-control"] == "no-store"
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600 and tokens["refresh_token"]
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


async def test_denied_and_expired_codes(serve, clock):
    async with serve() as wired:
        denied = await start_device(wired.http, wired.url)
        assert (await approve(wired.http, denied["verification_uri_complete"], "", action="deny")).status_code == 200
        refused = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=denied["device_code"])
        late = await start_device(wired.http, wired.url)
        clock.offset += 601
        expired = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=late["device_code"])
        approve_late = await approve(wired.http, late["verification_uri_complete"], ALICE)
        unknown = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code="nope")
    assert refused.json()["error"] == "access_denied"
    assert expired.json()["error"] == "expired_token"
    assert approve_late.status_code == 400 and "No pending sign-in" in approve_late.text
    assert unknown.json()["error"] == "invalid_grant"


async def test_verification_post_from_another_origin_is_refused(serve):
    async with serve() as wired:
        device = await start_device(wired.http, wired.url)
        page = device["verification_uri_complete"]
        cross = await approve(wired.http, page, ALICE, origin="https://evil.example")
        missing = await wired.http.post(
            f"{wired.url}/claude-code/device", data={"user_code": device["user_code"], "virtual_key": ALICE}
        )
        pending = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=device["device_code"])
        wrong_key = await approve(wired.http, page, "sk-bfc-not-a-key")
    assert cross.status_code == 403 and missing.status_code == 403
    assert pending.json()["error"] == "authorization_pending"
    assert wrong_key.status_code == 400 and "not valid" in wrong_key.text


async def test_verification_page_is_rate_limited_per_address(serve):
    async with serve() as wired:
        device = await start_device(wired.http, wired.url)
        statuses = [
            (await approve(wired.http, device["verification_uri_complete"], "sk-bfc-guess")).status_code
            for _ in range(11)
        ]
    assert statuses == [400] * 10 + [429]


async def test_refresh_rotates_and_a_spent_or_unknown_refresh_token_is_refused(serve):
    async with serve() as wired:
        first = await sign_in(wired.http, wired.url, ALICE)
        rotated = await token(wired.http, wired.url, grant_type="refresh_token", refresh_token=first["refresh_token"])
        reused = await token(wired.http, wired.url, grant_type="refresh_token", refresh_token=first["refresh_token"])
        unknown = await token(wired.http, wired.url, grant_type="refresh_token", refresh_token="bfcr_nope")
        second = rotated.json()
        works = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(second["access_token"]))
    assert rotated.status_code == 200 and second["refresh_token"] != first["refresh_token"]
    assert (reused.status_code, reused.json()["error"]) == (401, "invalid_grant")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_grant")
    assert works.status_code == 200


async def test_revocation_ends_the_grant_and_unknown_tokens_answer_200(serve):
    async with serve() as wired:
        tokens = await sign_in(wired.http, wired.url, BOB)
        revoke = f"{wired.url}/claude-code/oauth/revoke"
        unknown = await wired.http.post(revoke, data={"token": "never-issued"})
        revoked = await wired.http.post(revoke, data={"token": tokens["access_token"]})
        refresh_revoked = await wired.http.post(
            revoke, data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
        )
        after = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(tokens["access_token"]))
        refresh = await token(wired.http, wired.url, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (unknown.status_code, revoked.status_code, refresh_revoked.status_code) == (200, 200, 200)
    assert after.status_code == 401 and after.headers["x-should-retry"] == "false"
    assert after.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "the gateway sign-in was revoked"},
    }
    assert refresh.status_code == 401


async def test_sign_in_survives_a_restart(serve):
    async with serve(secret_env=None) as wired:
        tokens = await sign_in(wired.http, wired.url, ALICE)
    async with serve() as wired:  # a new process secret: the access token is dead, the refresh token is not
        dead = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(tokens["access_token"]))
        refreshed = await token(
            wired.http, wired.url, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
    assert dead.status_code == 401
    assert refreshed.status_code == 200


async def test_an_operator_approves_a_code_with_bifrostc_keys_approve_device(serve, tmp_path):
    def approve_device(code: str, key: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "bifrostc.compiler.cli", "keys", "approve-device", code, "--key", key]
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    async with serve() as wired:  # serve() writes tmp_path/gateway.yaml, which the command reads by default
        device = await start_device(wired.http, wired.url)
        unknown_key = await asyncio.to_thread(approve_device, device["user_code"], "mallory")
        approved = await asyncio.to_thread(approve_device, device["user_code"].lower(), "bob")
        again = await asyncio.to_thread(approve_device, device["user_code"], "bob")
        granted = await token(wired.http, wired.url, grant_type=DEVICE_GRANT, device_code=device["device_code"])
        models = await wired.http.get(
            f"{wired.url}/claude-code/v1/models", headers=bearer(granted.json()["access_token"])
        )
    assert unknown_key.returncode == 1 and "no virtual key named 'mallory'" in unknown_key.stderr
    assert approved.returncode == 0, approved.stderr
    assert again.returncode == 1 and "no pending sign-in" in again.stderr
    assert granted.status_code == 200
    assert {m["id"] for m in models.json()["data"]} >= {"echo", "other"}  # bob's grants, not alice's
