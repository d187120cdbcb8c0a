"""Who sent a request, as Claude Code says (its session, agent, parent agent and request class headers): the
session keys target affinity, and every log row keeps all four, in SQLite and PostgreSQL, in `/api/logs` and as
one session's tree at `/api/sessions/{id}`.

What Claude Code 2.1.332 sent a fake upstream (captured for this test): `x-claude-code-session-id` on every
request (also as `session_id` inside the JSON of `metadata.user_id`); a subagent's requests add
`x-claude-code-agent-id` and `x-claude-code-agent-type` (the CLI also has `x-claude-code-parent-agent-id`, for
an agent a subagent starts; a one-level capture does not show it); with
`CLAUDE_CODE_GATEWAY_HINT_HEADERS=1`, `x-claude-code-request-class` (main, subagent, ...) and
`x-claude-code-prompt-id`. The request goes to `/v1/messages?beta=true`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.integration.wired import (
    FakeUpstreams,
    Wired,
    base_spec,
    compile_gateway,
    openai_completion,
    user,
    wired_server,
)
from tests.observability.conftest import POSTGRES_DSN

KEY = "sk-bfc-sessions-0123456789abcdef"
SESSION = "3cb9aea1-f450-4e9c-94a1-ae25b3b55646"
ENV = {"S_KEY": KEY, "ADMIN_KEY": "admin-0123456789", "A_KEY": "sk-up-a-0123456789", "B_KEY": "sk-up-b-0123456789"}


def _spec(tmp_path: Path, store: str) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["admin_key_env"] = "ADMIN_KEY"
    for name in ("a", "b"):
        spec["providers"][name] = {
            "type": "openai",
            "base_url": f"http://{name}.test/v1",
            "api_key_env": f"{name.upper()}_KEY",
        }
    spec["models"]["split"] = {"targets": [{"provider": "a", "model": "m-a"}, {"provider": "b", "model": "m-b"}]}
    spec["virtual_keys"] = [{"name": "dev", "key_env": "S_KEY"}]
    if store == "postgres":
        spec["observability"] |= {"log_store": "postgres", "postgres_dsn_env": "PG_DSN"}
    return spec


async def _reply(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=openai_completion("ok", json.loads(request.content)["model"]))


def _headers(**hints: str) -> dict[str, str]:
    return {
        "x-api-key": KEY,
        "anthropic-version": "2023-06-01",
        **{f"x-claude-code-{k.replace('_', '-')}": v for k, v in hints.items()},
    }


async def _post(wired: Wired, headers: dict[str, str], user_id: str = "") -> None:
    body: dict[str, Any] = {"model": "split", "max_tokens": 16, "messages": user("hi")}
    if user_id:
        body["metadata"] = {"user_id": user_id}
    response = await wired.http.post(f"{wired.url}/anthropic/v1/messages?beta=true", json=body, headers=headers)
    assert response.status_code == 200, response.text


async def test_the_session_header_keys_affinity_before_metadata_user_id(tmp_path: Path) -> None:
    gateway = compile_gateway(tmp_path, _spec(tmp_path, "sqlite"), ENV)
    upstreams = FakeUpstreams(**{"a.test": _reply, "b.test": _reply})
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        for n in range(12):  # a different user_id every time: the header alone decides
            await _post(wired, _headers(session_id=SESSION), user_id=f"user-{n}-{uuid.uuid4()}")
        rows = await wired.logs(12)
    assert len({row["provider"] for row in rows}) == 1
    assert {row["session_id"] for row in rows} == {SESSION}


@contextlib.contextmanager
def _pg_schema() -> Iterator[dict[str, str]]:
    """A schema of this test's own on the shared PostgreSQL (search_path in the DSN), dropped afterwards."""
    schema = f"bifrostc_sess_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield {"PG_DSN": f"{POSTGRES_DSN} options='-c search_path={schema}'"}
        finally:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def test_log_rows_keep_session_agents_and_request_class_and_the_session_reads_as_a_tree(
    tmp_path: Path, store: str
) -> None:
    with contextlib.ExitStack() as stack:
        env = ENV | (stack.enter_context(_pg_schema()) if store == "postgres" else {})
        await _session_traffic(tmp_path, store, env)


async def _session_traffic(tmp_path: Path, store: str, env: dict[str, str]) -> None:
    session = f"{SESSION}-{uuid.uuid4().hex[:8]}"
    spec = _spec(tmp_path, store)
    gateway = compile_gateway(tmp_path, spec, env)
    upstreams = FakeUpstreams(**{"a.test": _reply, "b.test": _reply})
    async with wired_server(gateway, env, transport=upstreams.transport()) as wired:
        await _post(wired, _headers(session_id=session, request_class="main"))
        await _post(wired, _headers(session_id=session, agent_id="agent-1", request_class="subagent"))
        await _post(
            wired, _headers(session_id=session, agent_id="agent-2", parent_agent_id="agent-1", request_class="subagent")
        )
        await _post(wired, _headers(session_id=session, request_class="compaction"))
        # The session also comes from metadata.user_id (Claude Code's JSON form) when the header is absent.
        await _post(
            wired, _headers(request_class="main"), user_id=json.dumps({"device_id": "d", "session_id": session})
        )
        await wired.settled(5)
        admin = {"authorization": f"Bearer {ENV['ADMIN_KEY']}"}
        listed = (await wired.http.get(f"{wired.url}/api/logs", params={"session": session}, headers=admin)).json()
        tree = (await wired.http.get(f"{wired.url}/api/sessions/{session}", headers=admin)).json()
        missing = await wired.http.get(f"{wired.url}/api/sessions/no-such-session", headers=admin)
    rows = listed["data"]
    assert len(rows) == 5 and {r["session_id"] for r in rows} == {session}
    by_agent = {(r["agent_id"], r["parent_agent_id"], r["request_class"]) for r in rows}
    assert by_agent == {
        (None, None, "main"),
        ("agent-1", None, "subagent"),
        ("agent-2", "agent-1", "subagent"),
        (None, None, "compaction"),
    }
    assert tree["requests"] == 5 and tree["request_classes"] == {"compaction": 1, "main": 2, "subagent": 2}
    assert [r["request_class"] for r in tree["rows"]] == ["main", "compaction", "main"]  # oldest first
    [agent1] = tree["agents"]
    assert agent1["agent_id"] == "agent-1" and agent1["requests"] == 1
    assert [a["agent_id"] for a in agent1["agents"]] == ["agent-2"]
    assert missing.status_code == 404
