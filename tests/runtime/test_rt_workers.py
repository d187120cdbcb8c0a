"""How many workers `bifrostc serve` runs, and what only one of them does (runtime/supervisor.py, workers.py).

The CLI cases run the real `bifrostc serve`; the rest check the rules behind it with the real config types.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from bifrostc.runtime import config, workers
from bifrostc.runtime.claude_gateway.tokens import signing_secret
from bifrostc.runtime.observability.telemetry import Telemetry
from bifrostc.runtime.supervisor import WorkerCount, WorkersError, available_cores, resolve_workers
from tests.integration.replicas import build

SPEC = """\
version: 1
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo}}
observability: {{sqlite_path: "{db}"}}
"""


def _gateway(sqlite_path: str = "state.db", workers_setting: int | str = "auto") -> config.Gateway:
    return config.Gateway(
        {},
        {},
        server=config.Server(workers=workers_setting),
        observability=config.Observability(sqlite_path=sqlite_path),
    )


def test_auto_is_the_cores_this_process_may_use_and_the_flag_beats_env_beats_spec() -> None:
    cores = available_cores()
    assert resolve_workers(_gateway(), environ={}).count == cores
    assert "core" in resolve_workers(_gateway(), environ={}).source
    assert resolve_workers(_gateway(workers_setting=3), environ={}) == WorkerCount(3, "server.workers")
    assert resolve_workers(_gateway(workers_setting=3), environ={"BIFROSTC_WORKERS": "2"}).count == 2
    assert resolve_workers(_gateway(workers_setting=3), "5", {"BIFROSTC_WORKERS": "2"}).count == 5


def test_state_in_memory_means_one_worker_for_auto_and_a_refusal_for_more() -> None:
    memory = _gateway(":memory:")
    if available_cores() > 1:
        assert resolve_workers(memory, environ={}).count == 1
    with pytest.raises(WorkersError, match=":memory:"):
        resolve_workers(memory, 2, {})
    redis_state = dataclasses.replace(
        memory,
        server=config.Server(state="redis", redis_url_env="R"),
        observability=config.Observability(sqlite_path=":memory:", log_store="postgres"),
    )
    assert resolve_workers(redis_state, 2, {}).count == 2  # nothing embedded to share
    with pytest.raises(WorkersError, match="at least 1"):
        resolve_workers(_gateway(), "0", {})
    with pytest.raises(WorkersError, match="number of workers or auto"):
        resolve_workers(_gateway(), "many", {})


def test_serve_refuses_several_workers_for_state_in_memory(tmp_path: Path) -> None:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(db=":memory:"))
    build(spec, tmp_path / "out")
    command = [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(tmp_path / "out"), "--workers", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--workers is 2, but observability.sqlite_path is :memory:" in done.stderr


def test_retention_runs_in_worker_0_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = config.Observability(sqlite_path=str(tmp_path / "log.db"), retention_days=7)
    monkeypatch.setenv(workers.INDEX_ENV, "1")
    assert Telemetry.from_config(cfg, environ={}).retention is None
    monkeypatch.setenv(workers.INDEX_ENV, "0")
    assert Telemetry.from_config(cfg, environ={}).retention is not None
    monkeypatch.delenv(workers.INDEX_ENV)
    assert Telemetry.from_config(cfg, environ={}).retention is not None  # one process: it is worker 0


def test_sign_in_tokens_verify_on_every_worker_without_a_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(workers.SECRET_ENV, "ab" * 32)
    assert signing_secret(None, {}) == bytes.fromhex("ab" * 32) == signing_secret(None, {})
    assert signing_secret("SIGN_SECRET", {"SIGN_SECRET": "mine"}) == b"mine"  # the spec's secret wins
    monkeypatch.delenv(workers.SECRET_ENV)
    assert signing_secret(None, {}) != signing_secret(None, {})  # one process: its own random secret


def test_status_without_a_supervisor_is_one_worker_alive(tmp_path: Path) -> None:
    assert workers.status({}).as_dict()["alive"] == 1
    state = tmp_path / "workers.json"
    state.write_text('{"expected": 4, "alive": 3, "restarts": 2, "lost_log_records": 5}')
    current = workers.status({workers.STATE_ENV: str(state), workers.INDEX_ENV: "2"})
    assert (current.expected, current.alive, current.restarts, current.index, current.lost_log_records) == (
        4,
        3,
        2,
        2,
        5,
    )
    state.write_text("{")  # torn: nothing claimed alive
    assert workers.status({workers.STATE_ENV: str(state)}).alive == 0


def test_workers_that_keep_dying_at_start_stop_the_server(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # the state file's directory is a file: every worker fails to open it
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC.format(db=blocker / "state.db"))
    build(spec, tmp_path / "out")
    command = [sys.executable, "-m", "bifrostc.compiler.cli", "serve", str(tmp_path / "out"), "--workers", "2"]
    command += ["--port", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "3 workers in a row died before serving: stopping" in done.stderr
    assert "starting it again" in done.stderr  # each death logged before the server gave up
