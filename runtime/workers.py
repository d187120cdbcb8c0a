"""Which worker this process is, when `bifrostc serve --workers N` runs several (runtime/supervisor.py).

The supervisor starts each worker with a few environment variables; this module is the one place that reads
them, so the rest of the runtime asks questions instead of parsing env: is this the worker that runs the
once-per-server jobs (request-log retention), how many workers are alive (``/health``), and which secret
all workers share for what must verify across them (Claude Code sign-in tokens). Without a supervisor the
process is worker 0 of 1. Importing this module loads nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

INDEX_ENV = "BIFROSTC_WORKER_INDEX"  # 0 .. N-1, stable across a worker's restarts
EXPECTED_ENV = "BIFROSTC_WORKERS_EXPECTED"
STATE_ENV = "BIFROSTC_WORKERS_STATE"  # the supervisor's JSON status file (workers alive, restarts)
SECRET_ENV = "BIFROSTC_WORKERS_SECRET"  # random per server start, hex; shared by every worker
COUNT_ENV = "BIFROSTC_WORKERS"  # the operator's override of server.workers (below the CLI flag)


def worker_index(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        return int(env.get(INDEX_ENV, "0"))
    except ValueError:
        return 0


def expected_workers(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    try:
        return max(1, int(env.get(EXPECTED_ENV, "1")))
    except ValueError:
        return 1


def runs_once_per_server(environ: Mapping[str, str] | None = None) -> bool:
    """True in exactly one worker (index 0, restarted under the same index): jobs for the whole server."""
    return worker_index(environ) == 0


def shared_secret(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The secret every worker of this server shares, or None outside a supervisor."""
    env = os.environ if environ is None else environ
    value = env.get(SECRET_ENV)
    return bytes.fromhex(value) if value else None


@dataclass(frozen=True, slots=True)
class WorkersStatus:
    expected: int
    alive: int  # started and serving (the supervisor has seen them ready)
    restarts: int  # workers restarted after dying since the server started
    index: int  # this worker's
    pid: int  # this worker's
    lost_log_records: int = 0  # what killed workers held unwritten, from their last report

    def as_dict(self) -> dict[str, int]:
        return {
            "alive": self.alive,
            "expected": self.expected,
            "restarts": self.restarts,
            "lost_log_records": self.lost_log_records,
            "index": self.index,
            "pid": self.pid,
        }


def status(environ: Mapping[str, str] | None = None) -> WorkersStatus:
    """What the supervisor last wrote (one small file read); a lone process reports itself alive."""
    env = os.environ if environ is None else environ
    alive, restarts, lost, expected = 1, 0, 0, expected_workers(env)
    path = env.get(STATE_ENV)
    if path:
        try:
            data = json.loads(Path(path).read_text())
            alive, restarts = int(data["alive"]), int(data["restarts"])
            expected, lost = int(data["expected"]), int(data.get("lost_log_records", 0))
        except (OSError, ValueError, KeyError, TypeError):
            alive = 0  # not written yet, or torn: report nothing rather than a guess
    return WorkersStatus(expected, alive, restarts, worker_index(env), os.getpid(), lost)


@dataclass(slots=True)
class WorkersHealth:
    """An optional health source: /health is degraded while fewer workers serve than were asked for."""

    name: str = "workers"
    required: bool = False

    async def check(self) -> bool:
        current = status()
        return current.alive >= current.expected
