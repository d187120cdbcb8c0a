"""Helpers for /claude-code tests: a wired gateway with sign-in on, and the browser's part of the device flow."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.integration.wired import base_spec, sha256

ALICE = "sk-bfc-alice-signin-0123456789"
BOB = "sk-bfc-bob-signin-0123456789"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
UA = {"user-agent": "claude-code/2.1.332"}


def signin_spec(tmp_path: Path, **sign_in: Any) -> dict[str, Any]:
    """Keys alice (team platform, model echo only) and bob (no team); sign-in on with ``sign_in`` settings."""
    spec = base_spec(tmp_path / "gw.db")
    spec["models"]["other"] = {"target": "mock/other"}
    spec["teams"] = {"platform": {}}
    spec["virtual_keys"] = [
        {"name": "alice", "key_sha256": sha256(ALICE), "team": "platform", "allowed_models": ["echo"]},
        {"name": "bob", "key_sha256": sha256(BOB)},
    ]
    spec["claude_code"] = {"sign_in": sign_in}
    return spec


async def start_device(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await http.post(f"{url}/claude-code/oauth/device_authorization", data={"surface": "claude_code"})
    assert response.status_code == 200, response.text
    return response.json()


async def approve(
    http: httpx.AsyncClient, page_url: str, key: str, *, origin: str | None = None, action: str = "approve"
) -> httpx.Response:
    """What a person does in the browser: open the verification page, keep the pre-filled code, paste the key."""
    page = await http.get(page_url)
    assert page.status_code == 200, page.text
    user_code = re.search(r'name="user_code" value="([^"]*)"', page.text)
    assert user_code is not None, page.text
    form_origin = origin if origin is not None else str(httpx.URL(page_url).copy_with(path="/", query=None))[:-1]
    return await http.post(
        str(httpx.URL(page_url).copy_with(query=None)),
        data={"user_code": user_code.group(1), "virtual_key": key, "action": action},
        headers={"origin": form_origin},
    )


async def token(http: httpx.AsyncClient, url: str, **form: str) -> httpx.Response:
    return await http.post(f"{url}/claude-code/oauth/token", data=form, headers=UA)


async def sign_in(http: httpx.AsyncClient, url: str, key: str) -> dict[str, Any]:
    """The whole device flow for ``key``: the token response."""
    device = await start_device(http, url)
    approved = await approve(http, device["verification_uri_complete"], key)
    assert approved.status_code == 200, approved.text
    response = await token(http, url, grant_type=DEVICE_GRANT, device_code=device["device_code"])
    assert response.status_code == 200, response.text
    return response.json()


def bearer(access_token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {access_token}"}
