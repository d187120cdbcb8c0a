"""Issue 14 item 3: an answer completes only once its request-log row is written, so a replica SIGKILLed right
after a client got its answer cannot lose the row (tests/scale/test_load_balanced.py kills one under load).

A real `bifrostc serve` with its SQLite log and a linger far longer than the test: the writer only batches;
each answer waits for its row, and the row is in the database (read by another connection) the moment the
client holds the answer, non-streamed and streamed alike.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.integration.serve_process import serve_spec

SPEC = """\
version: 1
server: {{port: {{port}}}}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo}}
observability: {{log_store: sqlite, sqlite_path: "{db}", log_bodies: false}}
"""


def _status(db: Path, request_id: str) -> int | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM bifrostc_requests WHERE id = ?", (request_id,)).fetchone()
    return None if row is None else int(row[0])


async def test_the_row_is_written_before_the_answer_completes(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    env = {"BIFROSTC_LOG_LINGER_MS": "600000"}  # ten minutes: only an answer waiting for its row writes it
    async with serve_spec(tmp_path, SPEC.format(db=db), env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            seen = {}
            for stream in (False, True):
                body = {
                    "model": "echo",
                    "max_tokens": 8,
                    "stream": stream,
                    "messages": [{"role": "user", "content": "hi"}],
                }
                response = await http.post("/anthropic/v1/messages", json=body)
                assert response.status_code == 200
                seen[stream] = _status(db, response.headers["x-request-id"])
            refused = await http.post("/anthropic/v1/messages", json={"model": "nope", "messages": []})
            seen[None] = _status(db, refused.headers["x-request-id"])
    assert seen == {False: 200, True: 200, None: refused.status_code}
