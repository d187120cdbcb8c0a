"""The bearer-authenticated /claude-code endpoints: inference as the signed-in key, models, managed settings,
telemetry; and a key dropped by a hot reload signing its users out."""

from __future__ import annotations

import hashlib
import json

import anthropic
import pytest

from bifrostc.compiler.spec_claude_gateway import DEFAULT_ENV
from bifrostc.runtime.app import swap_gateway
from tests.claude_gateway.signin import ALICE, BOB, bearer, sign_in, signin_spec
from tests.integration.wired import DOLLAR_PER_TOKEN, compile_gateway, user


def claude_client(url: str, access_token: str) -> anthropic.AsyncAnthropic:
    """The Anthropic SDK as Claude Code uses it after /login: base {gateway}/claude-code, the bearer as auth token."""
    return anthropic.AsyncAnthropic(
        base_url=f"{url}/claude-code", auth_token=access_token, api_key=None, max_retries=0, timeout=10
    )


async def test_messages_run_as_the_signed_in_key_with_its_grants_and_are_logged_under_it(serve):
    async with serve() as wired:
        tokens = await sign_in(wired.http, wired.url, ALICE)
        client = claude_client(wired.url, tokens["access_token"])
        reply = await client.messages.create(model="echo", max_tokens=8, messages=user("hi"))
        raw = await wired.http.post(
            f"{wired.url}/claude-code/v1/messages?beta=true",
            json={"model": "echo", "max_tokens": 8, "messages": user("hi"), "some_future_field": 1},
            headers={**bearer(tokens["access_token"]), "x-app": "cli", "x-stainless-lang": "js"},
        )
        with pytest.raises(anthropic.BadRequestError) as denied:  # alice may use echo only
            await client.messages.create(model="other", max_tokens=8, messages=user("hi"))
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.count_tokens(model="other", messages=user("hi"))
        with pytest.raises(anthropic.BadRequestError):  # the same key on /anthropic: the same 400
            await wired.anthropic(ALICE).messages.create(model="other", max_tokens=8, messages=user("hi"))
        count = await client.messages.count_tokens(model="echo", messages=user("hello there"))
        logs = await wired.logs(4)
    assert reply.content[0].type == "text"
    assert denied.value.body["error"]["type"] == "invalid_request_error"  # the protocol's answer for a denied model
    assert raw.status_code == 200, raw.text
    assert count.input_tokens > 0
    assert {row["virtual_key"] for row in logs} == {"alice"}


async def test_a_missing_or_forged_bearer_gets_401_without_retry(serve):
    async with serve() as wired:
        tokens = await sign_in(wired.http, wired.url, ALICE)
        head, payload, _sig = tokens["access_token"].split(".")
        forged = f"{head}.{payload}.AAAA"
        body = {"model": "echo", "max_tokens": 8, "messages": user("hi")}
        missing = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=body)
        bad = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=body, headers=bearer(forged))
        virtual_key = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=body, headers=bearer(ALICE))
    for response in (missing, bad, virtual_key):
        assert response.status_code == 401
        assert response.headers["x-should-retry"] == "false"
        assert response.json()["error"]["type"] == "authentication_error"


async def test_an_expired_access_token_is_refused_and_refresh_gives_a_working_one(serve, clock):
    async with serve(token_ttl_seconds=60) as wired:
        tokens = await sign_in(wired.http, wired.url, BOB)
        clock.offset += 61
        expired = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(tokens["access_token"]))
        refreshed = await wired.http.post(
            f"{wired.url}/claude-code/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        fresh = await wired.http.get(
            f"{wired.url}/claude-code/v1/models", headers=bearer(refreshed.json()["access_token"])
        )
    assert expired.status_code == 401 and expired.headers["x-should-retry"] == "false"
    assert "expired" in expired.json()["error"]["message"]
    assert refreshed.status_code == 200 and refreshed.json()["expires_in"] == 60
    assert fresh.status_code == 200


async def test_models_lists_only_what_the_key_may_use(serve):
    async with serve() as wired:
        alice = await sign_in(wired.http, wired.url, ALICE)
        bob = await sign_in(wired.http, wired.url, BOB)
        alice_models = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(alice["access_token"]))
        bob_models = await wired.http.get(f"{wired.url}/claude-code/v1/models", headers=bearer(bob["access_token"]))
    # each route also under the generated id Claude Code's discovery keeps (it drops ids without "claude")
    assert [m["id"] for m in alice_models.json()["data"]] == ["claude-echo", "echo"]
    assert [m["id"] for m in bob_models.json()["data"]] == ["claude-echo", "claude-other", "echo", "other"]
    assert alice_models.json()["data"][0]["display_name"].startswith("echo → ")


async def test_removing_the_key_by_hot_reload_signs_its_users_out(serve, tmp_path):
    async with serve() as wired:
        tokens = await sign_in(wired.http, wired.url, BOB)
        spec = signin_spec(tmp_path)
        spec["virtual_keys"] = [k for k in spec["virtual_keys"] if k["name"] != "bob"]
        swap_gateway(wired.app, compile_gateway(tmp_path, spec))
        body = {"model": "echo", "max_tokens": 8, "messages": user("hi")}
        gone = await wired.http.post(
            f"{wired.url}/claude-code/v1/messages", json=body, headers=bearer(tokens["access_token"])
        )
        refresh = await wired.http.post(
            f"{wired.url}/claude-code/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    assert gone.status_code == 401 and gone.headers["x-should-retry"] == "false"
    assert (refresh.status_code, refresh.json()["error"]) == (401, "invalid_grant")


def _checksum(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


MANAGED = {
    "permissions": {"allow": ["Bash(ls)"], "deny": ["Read(.env)"]},
    "env": {"COMPANY": "acme", "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "0"},
    "model": "echo",
    "teams": {"platform": {"permissions": {"allow": ["Bash(make)"], "deny": ["Bash(rm *)"]}, "env": {"TEAM": "p"}}},
}


async def test_managed_settings_merge_the_team_over_the_base_with_checksum_etag_and_304(serve, tmp_path):
    spec = signin_spec(tmp_path)
    spec["claude_code"]["managed_settings"] = MANAGED
    async with serve(spec) as wired:
        alice = await sign_in(wired.http, wired.url, ALICE)
        bob = await sign_in(wired.http, wired.url, BOB)
        url = f"{wired.url}/claude-code/managed/settings"
        team = await wired.http.get(url, headers=bearer(alice["access_token"]))
        base = await wired.http.get(url, headers=bearer(bob["access_token"]))
        etag = team.headers["etag"]
        same = await wired.http.get(url, headers={**bearer(alice["access_token"]), "if-none-match": etag})
        star = await wired.http.get(url, headers={**bearer(alice["access_token"]), "if-none-match": "*"})
        stale = await wired.http.get(url, headers={**bearer(alice["access_token"]), "if-none-match": '"sha256:0"'})
        anonymous = await wired.http.get(url)
    settings = team.json()["settings"]
    assert settings["permissions"] == {"allow": ["Bash(make)"], "deny": ["Read(.env)", "Bash(rm *)"]}
    assert settings["env"] == {
        **DEFAULT_ENV,
        "COMPANY": "acme",
        "TEAM": "p",
        "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "0",  # the spec's own value wins over the default
    }
    assert settings["model"] == "echo"
    assert team.json()["checksum"] == _checksum(settings) and etag == f'"{_checksum(settings)}"'
    assert base.json()["settings"]["permissions"] == MANAGED["permissions"]
    assert base.json()["uuid"] != team.json()["uuid"]
    assert same.status_code == 304 and same.content == b""
    assert star.status_code == 200 and stale.status_code == 200
    assert anonymous.status_code == 401


async def test_managed_settings_404_without_a_policy_and_defaults_with_an_empty_one(serve, tmp_path):
    async with serve() as wired:
        tokens = await sign_in(wired.http, wired.url, BOB)
        none = await wired.http.get(f"{wired.url}/claude-code/managed/settings", headers=bearer(tokens["access_token"]))
    spec = signin_spec(tmp_path)
    spec["claude_code"]["managed_settings"] = {}
    async with serve(spec) as wired:
        tokens = await sign_in(wired.http, wired.url, BOB)
        empty = await wired.http.get(
            f"{wired.url}/claude-code/managed/settings", headers=bearer(tokens["access_token"])
        )
    assert none.status_code == 404
    echo = {"input": DOLLAR_PER_TOKEN["input"], "output": DOLLAR_PER_TOKEN["output"]}  # USD per million tokens
    assert empty.json()["settings"] == {
        "env": DEFAULT_ENV,  # model discovery, hint headers and Claude Code's OTLP export
        "modelPricing": {  # Claude Code prices its own cost figures like the gateway (the spec's echo price)
            "overrides": {"echo": {**echo, "cacheRead": echo["input"], "cacheWrite": echo["input"]}}
        },
    }


OTLP_LOGS = {
    "resourceLogs": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
            "scopeLogs": [
                {
                    "logRecords": [
                        {
                            "body": {"stringValue": "claude_code.api_request"},
                            "attributes": [{"key": "session.id", "value": {"stringValue": "sess-1234"}}],
                        }
                    ]
                }
            ],
        }
    ]
}


async def test_telemetry_is_accepted_as_json_and_protobuf_and_stored_with_identity_and_session(serve, tmp_path):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add().resource
    resource.attributes.append(KeyValue(key="session.id", value=AnyValue(string_value="sess-proto")))
    async with serve() as wired:
        tokens = await sign_in(wired.http, wired.url, ALICE)
        logs = await wired.http.post(
            f"{wired.url}/claude-code/v1/logs", json=OTLP_LOGS, headers=bearer(tokens["access_token"])
        )
        metrics = await wired.http.post(
            f"{wired.url}/claude-code/v1/metrics",
            content=request.SerializeToString(),
            headers={**bearer(tokens["access_token"]), "content-type": "application/x-protobuf"},
        )
        unsigned = await wired.http.post(f"{wired.url}/claude-code/v1/traces", json={"resourceSpans": []})
    assert (logs.status_code, metrics.status_code, unsigned.status_code) == (200, 200, 200)
    import sqlite3

    rows = (
        sqlite3.connect(tmp_path / "gw.claude-code.db")
        .execute("SELECT signal, key_name, session_id, size FROM claude_code_telemetry ORDER BY id")
        .fetchall()
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [("logs", "alice", "sess-1234"), ("metrics", "alice", "sess-proto")]
