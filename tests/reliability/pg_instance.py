"""A PostgreSQL server of the test's own (initdb into a temp dir, pg_ctl on a free port, run as user postgres),
so a test can kill and restart it without touching the shared instance on 5432."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.integration.replicas import free_port

RUN_AS = ["runuser", "-u", "postgres", "--"]


def available() -> bool:
    return all(shutil.which(tool) for tool in ("initdb", "pg_ctl", "runuser"))


class PgInstance:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run([*RUN_AS, "pg_ctl", "-D", str(self.data), *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        subprocess.run(
            [*RUN_AS, "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def kill(self) -> None:
        """Stop at once, as a crash would: connections are cut, nothing is shut down cleanly."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def _pids(self) -> list[int]:
        """The postmaster and its backends (this instance's processes only, by id)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True)
        return [postmaster, *(int(pid) for pid in children.stdout.split())]

    def freeze(self) -> None:
        """SIGSTOP: the server stops answering but keeps every connection open, as a network partition would."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def rows(self, table: str = "bifrostc_requests") -> list[str]:
        with psycopg.connect(self.dsn, connect_timeout=5) as conn:
            try:
                return [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY seq")]
            except psycopg.errors.UndefinedTable:
                return []  # the gateway has not reconnected (and created it) yet


@contextlib.contextmanager
def pg_instance(*, started: bool = True) -> Iterator[PgInstance]:
    root = Path(tempfile.mkdtemp(prefix="bifrostc-pg-"))
    shutil.chown(root, "postgres", "postgres")
    instance = PgInstance(root, free_port())
    instance.init()
    if started:
        instance.start()
    try:
        yield instance
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            instance.kill()
        shutil.rmtree(root, ignore_errors=True)
