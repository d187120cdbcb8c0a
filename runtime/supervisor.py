"""`bifrostc serve --workers N`: one listening socket, N gateway worker processes, a supervisor over them.

The supervisor binds the port once and starts N workers (``python -c ... worker_main``, each a full
`bifrostc serve` of out/ on the inherited socket: the kernel hands every new connection to one of the workers
waiting in accept, so a dead worker's queued connections are taken by the others). It then only watches:

- a worker that exits is logged and started again under the same index (the index decides which worker runs the
  once-per-server jobs, runtime/workers.py); one that dies before it ever got ready three times in a row stops
  the server (a broken out/ would otherwise restart forever);
- SIGTERM / SIGINT are passed to every worker, which drain within ``server.shutdown_grace_seconds`` as one
  process does (runtime/http_server.py); what still runs past the grace period plus the cut is killed;
- a status file (workers alive/expected, restarts) is rewritten on every change; ``/health`` and ``/metrics``
  of any worker read it. Metrics go through one ``PROMETHEUS_MULTIPROC_DIR`` the supervisor creates and removes.

Each worker polls out/ itself, so a rebuild reaches every worker within the poll interval. Shared state is the
embedded SQLite file (budgets, rate limits, request log: WAL, ``BEGIN IMMEDIATE``, busy timeouts) or Redis;
in-process state stays per worker (the memory response cache, circuit breakers). A SIGKILLed worker's requests
in flight are lost with it (their clients see the connection drop and no log row is written; the restart is
counted in ``bifrostc_worker_restarts``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bifrostc.runtime import workers as env_names
from bifrostc.runtime.config import Gateway

log = logging.getLogger("bifrostc.supervisor")
POLL_S = 0.1
START_FAILURES_FATAL = 3  # consecutive workers that died before getting ready: out/ is broken, stop
KILL_MARGIN_S = 5.0  # after grace + cut, before SIGKILL
BACKLOG = 4096
_WORKER_ENTRY = "from bifrostc.runtime.supervisor import worker_main; worker_main()"


class WorkersError(Exception):
    """The requested worker count cannot work with this spec (state that one process keeps in memory)."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def unshareable_state(gateway: Gateway) -> str | None:
    """Why workers could not share this spec's embedded state, or None when they can."""
    obs = gateway.observability
    if obs.sqlite_path == ":memory:" and (gateway.server.state == "embedded" or obs.log_store == "sqlite"):
        return "observability.sqlite_path is :memory:, which one process cannot share with another"
    return None


@dataclass(frozen=True, slots=True)
class WorkerCount:
    count: int
    source: str  # for the banner: where the number came from


def resolve_workers(
    gateway: Gateway, requested: str | int | None = None, environ: Mapping[str, str] | None = None
) -> WorkerCount:
    """``--workers`` beats ``BIFROSTC_WORKERS`` beats ``server.workers``; ``auto`` is one per available core,
    or 1 when the embedded state lives in memory. An explicit N > 1 with such state is refused."""
    env = os.environ if environ is None else environ
    value: str | int = gateway.server.workers
    source = "server.workers"
    if requested is not None:
        value, source = requested, "--workers"
    elif env.get(env_names.COUNT_ENV):
        value, source = env[env_names.COUNT_ENV], env_names.COUNT_ENV
    problem = unshareable_state(gateway)
    if str(value).strip().lower() == "auto":
        cores = available_cores()
        if problem is not None and cores > 1:
            return WorkerCount(1, f"auto, but {problem}")
        return WorkerCount(cores, f"auto: {cores} core{'s' if cores != 1 else ''} available")
    try:
        count = int(value)
    except ValueError:
        raise WorkersError(f"{source} must be a number of workers or auto, not {value!r}") from None
    if count < 1:
        raise WorkersError(f"{source} must be at least 1, not {count}")
    if count > 1 and problem is not None:
        raise WorkersError(f"{source} is {count}, but {problem}: set a file path, or serve one worker")
    return WorkerCount(count, source)


def bind(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    sock.set_inheritable(True)
    return sock


@dataclass(slots=True)
class Worker:
    index: int
    process: subprocess.Popen[bytes]
    started: float
    ready: bool = False


@dataclass(slots=True)
class Supervisor:
    """Runs N workers of one out/ on one socket until SIGTERM/SIGINT (see the module docstring)."""

    count: int
    sock: socket.socket
    grace_s: float
    worker_options: dict[str, Any]  # serve()'s arguments, as JSON for the workers
    state_dir: pathlib.Path = field(default_factory=lambda: pathlib.Path(tempfile.mkdtemp(prefix="bifrostc-workers-")))
    workers: dict[int, Worker] = field(default_factory=dict)
    restarts: int = 0
    lost_log_records: int = 0  # killed workers' unwritten request-log records, from their last report
    start_failures: int = 0
    _due: dict[int, float] = field(default_factory=dict)  # index -> when to start it again
    _stop: threading.Event = field(default_factory=threading.Event)
    _secret: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def metrics_dir(self) -> pathlib.Path:
        return self.state_dir / "metrics"

    @property
    def state_file(self) -> pathlib.Path:
        return self.state_dir / "workers.json"

    def _env(self, index: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                env_names.INDEX_ENV: str(index),
                env_names.EXPECTED_ENV: str(self.count),
                env_names.STATE_ENV: str(self.state_file),
                env_names.SECRET_ENV: self._secret,
                "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            }
        )
        return env

    def _spawn(self, index: int) -> None:
        options = {**self.worker_options, "listen_fd": self.sock.fileno(), "ready_dir": str(self.state_dir)}
        process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_ENTRY, json.dumps(options)],
            env=self._env(index),
            pass_fds=(self.sock.fileno(),),
        )
        self.workers[index] = Worker(index, process, time.monotonic())
        log.info("worker %d started (pid %d)", index, process.pid)

    def _write_state(self) -> None:
        alive = sum(1 for w in self.workers.values() if w.ready and w.process.poll() is None)
        body = {
            "expected": self.count,
            "alive": alive,
            "restarts": self.restarts,
            "lost_log_records": self.lost_log_records,
            "pids": {str(i): w.process.pid for i, w in self.workers.items()},
        }
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(body))
        os.replace(temporary, self.state_file)  # readers never see half a file

    def _ready_marker(self, pid: int) -> pathlib.Path:
        return self.state_dir / f"ready.{pid}"

    def _on_exit(self, worker: Worker, code: int) -> None:
        from prometheus_client.multiprocess import mark_process_dead

        pid = worker.process.pid
        if code < 0:  # killed: what it had not written yet is gone (a clean exit flushes its log first)
            self.lost_log_records += self._pending_records(pid)
        mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]  # live gauges go
        self._ready_marker(pid).unlink(missing_ok=True)
        del self.workers[worker.index]
        how = f"killed by {_signal_name(-code)}" if code < 0 else f"exited with status {code}"
        if not worker.ready:
            self.start_failures += 1
        self.restarts += 1
        delay = 0.0 if worker.ready else min(5.0, 0.5 * 2 ** (self.start_failures - 1))
        log.error("worker %d (pid %d) %s; starting it again in %.1fs", worker.index, pid, how, delay)
        self._due[worker.index] = time.monotonic() + delay

    def _pending_records(self, pid: int) -> int:
        """The request-log records a dead worker last reported as accepted and unwritten (its live gauge file)."""
        from prometheus_client.mmap_dict import MmapedDict

        from bifrostc.runtime.observability.metrics import PENDING_METRIC

        path = self.metrics_dir / f"gauge_livesum_{pid}.db"
        try:
            values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        except (OSError, ValueError):
            return 0
        return int(sum(value for key, value, _, _ in values if json.loads(key)[0] == PENDING_METRIC))

    def _watch(self) -> int:
        while not self._stop.wait(POLL_S):
            changed = False
            for worker in list(self.workers.values()):
                code = worker.process.poll()
                if code is not None:
                    self._on_exit(worker, code)
                    changed = True
                elif not worker.ready and self._ready_marker(worker.process.pid).exists():
                    worker.ready, changed = True, True
                    self.start_failures = 0
                    log.info("worker %d ready (pid %d)", worker.index, worker.process.pid)
            if self.start_failures >= START_FAILURES_FATAL:
                log.error(
                    "%d workers in a row died before serving: stopping (see their errors above)", START_FAILURES_FATAL
                )
                return 1
            now = time.monotonic()
            for index, due in list(self._due.items()):
                if now >= due:
                    del self._due[index]
                    self._spawn(index)
                    changed = True
            if changed:
                self._write_state()
        return 0

    def _drain(self, deadline_s: float) -> None:
        """SIGTERM every worker, wait for them to drain, SIGKILL what is left at the deadline."""
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
        end = time.monotonic() + deadline_s
        for worker in self.workers.values():
            try:
                worker.process.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error(
                    "worker %d (pid %d) did not stop in %.0fs: killing it", worker.index, worker.process.pid, deadline_s
                )
                worker.process.kill()
                worker.process.wait()

    def run(self) -> int:
        from bifrostc.runtime.http_server import SHUTDOWN_CUT_SECONDS

        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        previous = {sig: signal.signal(sig, lambda *_: self._stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        code = 0
        try:
            for index in range(self.count):
                self._spawn(index)
            self._write_state()
            code = self._watch()
            log.info("stopping %d workers (grace period %gs)", len(self.workers), self.grace_s)
        finally:
            self._drain(self.grace_s + SHUTDOWN_CUT_SECONDS + KILL_MARGIN_S)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.sock.close()
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return code


def supervise(count: WorkerCount, host: str, port: int, grace_s: float, worker_options: dict[str, Any]) -> int:
    """Bind host:port, run ``count`` workers until SIGTERM; the exit status (1: workers kept dying at start)."""
    sock = bind(host, port)
    bound = sock.getsockname()
    log.info(
        "bifrostc serve: %d workers (%s) on http://%s:%d, pid %d",
        count.count,
        count.source,
        host,
        bound[1],
        os.getpid(),
    )
    return Supervisor(count.count, sock, grace_s, worker_options).run()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the supervisor dies, so a killed supervisor leaves no orphans."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def worker_main() -> None:
    """A worker's entry point: ``serve`` on the inherited socket with the supervisor's options."""
    _die_with_parent()
    options = json.loads(sys.argv[1])
    from bifrostc.runtime.server import serve

    out_dir = pathlib.Path(options.pop("out_dir"))
    serve(out_dir, **options)
