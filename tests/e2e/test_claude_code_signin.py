"""The real Claude Code signs in to the gateway with /login (``claude auth login --gateway-json``), approved on
the verification page with a virtual key, then runs a tool loop on the minted bearer: its access token has
expired by then (a 2 s TTL), so the run works only if refresh does; the model it asks for comes from an env
variable in the spec's managed settings; and once a hot reload drops the key, the next run stops at once.
`claude auth logout` revokes the grant through the revocation endpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import sqlite3
import time
from typing import Any

import pytest
from test_claude_code import FINAL_TEXT, MARKER_PROMPT, claude_binary, fake_openai_upstream

from bifrostc.runtime.app import swap_gateway
from tests.claude_gateway.signin import ALICE, approve, bearer, signin_spec
from tests.integration.wired import Wired, compile_gateway, wired_server

pytestmark = pytest.mark.claude_cli
ANSWERED = ("url_input", "trust_prompt", "confirm_account")  # the prompts that wait for {"accept": true}


def cli_env(home: pathlib.Path) -> dict[str, str]:
    """No ANTHROPIC_* variables: everything Claude Code knows about the gateway comes from /login."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "IS_SANDBOX": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


async def gateway_login(binary: str, env: dict[str, str], wired: Wired, key: str) -> list[dict[str, Any]]:
    """``claude auth login --gateway-json``: accept each prompt, approve the code in the "browser"; the prompts."""
    proc = await asyncio.create_subprocess_exec(
        binary, "auth", "login", "--gateway-json", env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    prompts: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(60):
            while prompts[-1:] == [] or prompts[-1]["state"] not in ("done", "error", "cancelled"):
                line = await proc.stdout.readline()
                if not line:
                    break
                prompt = json.loads(line)
                prompts.append(prompt)
                if prompt["state"] in ANSWERED:
                    answer = {"state": prompt["state"], "shown": prompt.get("shown"), "accept": True}
                    proc.stdin.write(json.dumps(answer).encode() + b"\n")
                    await proc.stdin.drain()
                elif prompt["state"] == "polling":
                    approved = await approve(wired.http, prompt["browserUrl"], key)
                    assert approved.status_code == 200, approved.text
            proc.stdin.close()
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return prompts


async def claude_p(binary: str, env: dict[str, str], work: pathlib.Path, prompt: str) -> tuple[int, bytes, bytes]:
    argv = [binary, "-p", prompt, "--output-format", "json", "--model", "sonnet"]
    argv += ["--permission-mode", "bypassPermissions", "--allowedTools", "Bash"]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out, err


def signed_in_spec(tmp_path: pathlib.Path, upstream_url: str, *, with_alice: bool = True) -> dict[str, Any]:
    spec = signin_spec(tmp_path, token_ttl_seconds=2)
    spec["providers"]["fake"] = {"type": "openai", "base_url": f"{upstream_url}/v1", "api_key_env": "FAKE_KEY"}
    spec["models"]["fake-model"] = {"target": "fake/gpt-fake"}
    spec["virtual_keys"][0]["allowed_models"] = ["fake-model"]
    if not with_alice:
        spec["virtual_keys"] = [k for k in spec["virtual_keys"] if k["name"] != "alice"]
    # No route is named after Claude Code's own tier models: the run works only if this env reaches it.
    tiers = ("ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_SMALL_FAST_MODEL")
    spec["claude_code"]["managed_settings"] = {"env": dict.fromkeys(tiers, "fake-model")}
    return spec


async def test_claude_code_signs_in_with_login_runs_on_the_refreshed_token_and_is_stopped_by_key_removal(
    live_server, tmp_path
):
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".claude").mkdir(parents=True)
    work.mkdir()
    seen: list[dict[str, Any]] = []
    async with live_server(fake_openai_upstream(seen)) as upstream_url:
        gateway = compile_gateway(tmp_path, signed_in_spec(tmp_path, upstream_url))
        async with wired_server(gateway, {"FAKE_KEY": "sk-fake"}) as wired:
            settings = {"forceLoginMethod": "gateway", "forceLoginGatewayUrl": f"{wired.url}/claude-code"}
            (home / ".claude" / "settings.json").write_text(json.dumps(settings))
            env = cli_env(home)
            prompts = await gateway_login(binary, env, wired, ALICE)
            assert [p["state"] for p in prompts if p["state"] != "connecting"] == [
                "url_input", "trust_prompt", "polling", "saving", "done",
            ], prompts  # fmt: skip
            time.sleep(2.5)  # the access token from the sign-in is now expired
            returncode, out, err = await claude_p(binary, env, work, MARKER_PROMPT)
            assert returncode == 0, (out + err).decode()[-3000:]
            logs = await wired.logs(2)
            db = sqlite3.connect(tmp_path / "gw.claude-code.db")
            rotated = db.execute("SELECT count(*) FROM signin_refresh WHERE used_at IS NOT NULL").fetchone()[0]

            swap_gateway(wired.app, compile_gateway(tmp_path, signed_in_spec(tmp_path, upstream_url, with_alice=False)))
            started = time.monotonic()
            refused_code, *refused = await claude_p(binary, env, work, "hello")
            refused_after = time.monotonic() - started
    assert FINAL_TEXT in json.loads(out)["result"]
    assert (work / "marker.txt").read_text().strip() == "hi"
    assert {(row["virtual_key"], row["team"], row["requested_model"]) for row in logs} == {
        ("alice", "platform", "fake-model")
    }
    assert rotated >= 1  # the expired token was refreshed, not re-issued by a new sign-in
    assert refused_code != 0
    refused_out = b"".join(refused).decode()
    assert "sign in again" in refused_out, refused_out[-2000:]
    assert refused_after < 30  # x-should-retry: false: no minutes of retries first


async def test_claude_auth_logout_revokes_the_grant_at_the_gateway(tmp_path):
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    async with wired_server(compile_gateway(tmp_path, signin_spec(tmp_path))) as wired:
        settings = {"forceLoginMethod": "gateway", "forceLoginGatewayUrl": f"{wired.url}/claude-code"}
        (home / ".claude" / "settings.json").write_text(json.dumps(settings))
        env = cli_env(home)
        assert (await gateway_login(binary, env, wired, ALICE))[-1]["state"] == "done"
        # What Claude Code stored: the bearer and refresh token the gateway issued.
        stored = json.loads((home / ".claude" / ".credentials.json").read_text())["enterpriseGateway"]
        before = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(stored["jwt"]))
        logout = await asyncio.create_subprocess_exec(
            binary, "auth", "logout", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(60):
            await logout.communicate()
        after = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(stored["jwt"]))
        refresh = await wired.http.post(
            f"{wired.url}/claude-code/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": stored["idpRefreshToken"]},
        )
    assert before.status_code == 200
    assert logout.returncode == 0
    assert after.status_code == 401 and after.headers["x-should-retry"] == "false"
    assert refresh.status_code == 401
