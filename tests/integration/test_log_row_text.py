"""A log row's bodies are stored as TEXT whatever they hold: the SQLite store binds orjson's UTF-8 bytes and casts
them in the statement (observability/store.py), so non-ASCII text reads back as it was sent, through the log API
and to any other reader of the file (the sqlite3 shell, a BI tool), and never as a BLOB."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.wired import Wired, base_spec, compile_gateway, wired_server

ENV = {"ALICE_KEY": "sk-bfc-alice-0123456789", "ADMIN_KEY": "admin-0123456789"}
TEXT = "Rename the module — keep “quotes”, ümlauts, 日本語 and 🦀 as they are.\n\tThen run the tests."


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    spec: dict[str, Any] = base_spec(tmp_path / "gw.db")
    spec["server"]["admin_key_env"] = "ADMIN_KEY"
    spec["virtual_keys"] = [{"name": "alice", "key_env": "ALICE_KEY"}]
    async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV) as wired:
        yield wired


async def test_non_ascii_bodies_are_logged_as_text_and_read_back_as_sent(served: Wired, tmp_path: Path) -> None:
    reply = await served.http.post(
        f"{served.url}/anthropic/v1/messages",
        headers={"x-api-key": ENV["ALICE_KEY"], "anthropic-version": "2023-06-01"},
        json={"model": "echo", "max_tokens": 64, "messages": [{"role": "user", "content": TEXT}]},
    )
    assert reply.status_code == 200, reply.text
    request_id = reply.headers["x-request-id"]
    await served.settled(1)

    row = await served.http.get(f"{served.url}/api/logs/{request_id}", headers={"x-admin-key": ENV["ADMIN_KEY"]})
    assert row.status_code == 200, row.text
    assert row.json()["request_messages"][0]["content"][0]["text"] == TEXT

    with sqlite3.connect(tmp_path / "gw.db") as conn:
        stored = conn.execute(
            "SELECT typeof(request_messages), typeof(response_content),"
            " json_extract(request_messages, '$[0].content[0].text') FROM bifrostc_requests WHERE id = ?",
            (request_id,),
        ).fetchone()
    assert stored == ("text", "text", TEXT)
