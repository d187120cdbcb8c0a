"""A long system prompt is logged once per caller: a later row with the very same prompt names the row that holds it
(runtime/observability/logged_prompts.py), read back through the log API the dashboard uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.wired import Wired, base_spec, compile_gateway, wired_server

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "claude_code" / "first-turn-1.json"
KEYS = {"ALICE_KEY": "sk-bfc-alice-0123456789", "BOB_KEY": "sk-bfc-bob-0123456789"}
ENV = {**KEYS, "ADMIN_KEY": "admin-0123456789"}
ADMIN = {"authorization": f"Bearer {ENV['ADMIN_KEY']}"}


def _claude_code_first_turn() -> dict[str, Any]:
    """What Claude Code sent (its 28 KB system prompt, tools, the first message), unstreamed, to the mock."""
    body: dict[str, Any] = orjson.loads(FIXTURE.read_bytes())["body"]
    return {**body, "model": "echo", "stream": False}


def _spec(tmp_path: Path, **observability: Any) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["admin_key_env"] = "ADMIN_KEY"
    spec["virtual_keys"] = [{"name": "alice", "key_env": "ALICE_KEY"}, {"name": "bob", "key_env": "BOB_KEY"}]
    spec["observability"].update(observability)
    return spec


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    async with wired_server(compile_gateway(tmp_path, _spec(tmp_path), ENV), ENV) as wired:
        yield wired


async def _send(wired: Wired, key: str, body: dict[str, Any]) -> str:
    reply = await wired.http.post(
        f"{wired.url}/anthropic/v1/messages",
        headers={"x-api-key": KEYS[key], "anthropic-version": "2023-06-01"},
        json=body,
    )
    assert reply.status_code == 200, reply.text
    return reply.headers["x-request-id"]


async def _head(wired: Wired, request_id: str) -> dict[str, Any]:
    """The first logged message of a row: its system prompt, in full or named."""
    reply = await wired.http.get(f"{wired.url}/api/logs/{request_id}", headers=ADMIN)
    assert reply.status_code == 200, reply.text
    head: dict[str, Any] = reply.json()["request_messages"][0]
    return head


def _texts(head: dict[str, Any]) -> list[str]:
    return [part["text"] for part in head["content"]]


async def test_a_repeated_long_system_prompt_names_the_row_that_logged_it_for_the_same_caller(served: Wired) -> None:
    body = _claude_code_first_turn()
    first, again, other = [await _send(served, key, body) for key in ("ALICE_KEY", "ALICE_KEY", "BOB_KEY")]
    await served.settled(3)
    assert _texts(await _head(served, first)) == [part["text"] for part in body["system"]]
    assert await _head(served, again) == {"role": "system", "logged_with": first}
    assert _texts(await _head(served, other)) == _texts(await _head(served, first))  # bob cannot read alice's row


async def test_a_short_or_changed_system_prompt_is_logged_as_it_is(served: Wired) -> None:
    body = _claude_code_first_turn()
    short = {**body, "system": "You are terse."}
    changed = {**body, "system": [*body["system"][:-1], {"type": "text", "text": body["system"][-1]["text"] + "!"}]}
    ids = [await _send(served, "ALICE_KEY", b) for b in (short, short, body, changed)]
    await served.settled(4)
    heads = [await _head(served, request_id) for request_id in ids]
    assert [_texts(h) for h in heads[:2]] == [["You are terse."], ["You are terse."]]
    assert _texts(heads[3])[-1].endswith("!") and len(_texts(heads[3])) == len(body["system"])


async def test_log_full_history_logs_every_system_prompt_whole(tmp_path: Path) -> None:
    gateway = compile_gateway(tmp_path, _spec(tmp_path, log_full_history=True), ENV)
    async with wired_server(gateway, ENV) as wired:
        body = _claude_code_first_turn()
        ids = [await _send(wired, "ALICE_KEY", body) for _ in range(2)]
        await wired.settled(2)
        heads = [await _head(wired, request_id) for request_id in ids]
    assert _texts(heads[0]) == _texts(heads[1]) == [part["text"] for part in body["system"]]
