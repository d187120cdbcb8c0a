"""Real Redis topologies for the scale-out tests, each in a temporary directory on free 127.0.0.1 ports.

``redis_single``: one standalone server. ``redis_cluster``: six ``redis-server`` processes in cluster mode joined
by ``redis-cli --cluster create``
(three masters, one replica each). ``redis_sentinel``: a master, a replica and three sentinels watching it.
Both are torn down (SIGKILL) on exit; nothing here touches the shared Redis on 6379.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.crc import key_slot

from tests.integration.replicas import free_port

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
DEADLINE_S = 30.0  # guard against a hang only


def have_redis() -> bool:
    return REDIS_SERVER is not None and REDIS_CLI is not None


def _until(what: str, ready: object, deadline_s: float = DEADLINE_S) -> None:
    """Poll ``ready()`` (a separate process: there is no event to await) until it is true."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if ready():  # type: ignore[operator]
                return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {deadline_s} s")


def _cluster_port(taken: set[int]) -> int:
    """A free port at most 55535 whose cluster bus port (+10000) is free too."""
    while True:
        port = random.randint(20000, 45535)
        if port in taken or port + 10000 in taken:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        taken.update((port, port + 10000))
        return port


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=2)


@dataclass
class Nodes:
    ports: list[int]
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


def _start(nodes: Nodes, port: int, directory: Path, *args: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    base = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    command = [REDIS_SERVER or "redis-server", *base, *args]
    log = (directory / "redis.log").open("wb")
    nodes.procs[port] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=directory)


@dataclass
class Cluster(Nodes):
    @property
    def url(self) -> str:
        return ",".join(f"redis://127.0.0.1:{port}" for port in self.ports)

    def master_of(self, key: str) -> int:
        """The port of the master serving ``key``'s slot now (``CLUSTER NODES`` of any live node)."""
        slot = key_slot(key.encode())
        for port in self.procs:
            with contextlib.suppress(redis.RedisError, OSError):
                text = _client(port).execute_command("CLUSTER", "NODES")
                lines = text.decode() if isinstance(text, bytes) else str(text)
                for line in lines.splitlines():
                    parts = line.split()
                    flags = parts[2].split(",")
                    if "master" not in flags or "fail" in flags or "fail?" in flags:
                        continue
                    for item in parts[8:]:
                        lo, _, hi = item.partition("-")
                        if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                            return int(parts[1].split(":")[1].split("@")[0])
        raise LookupError(f"no master serves slot {slot}")

    def healthy(self) -> bool:
        return all(b"cluster_state:ok" in _client(port).execute_command("CLUSTER", "INFO") for port in self.procs)


@contextlib.contextmanager
def redis_single(tmp: Path) -> Iterator[str]:
    """One standalone ``redis-server`` of the test's own on a free port; yields its URL."""
    nodes = Nodes([free_port()])
    try:
        _start(nodes, nodes.ports[0], tmp / "redis")
        _until("redis", lambda: _client(nodes.ports[0]).ping())
        yield f"redis://127.0.0.1:{nodes.ports[0]}/0"
    finally:
        nodes.close()


@contextlib.contextmanager
def redis_cluster(tmp: Path) -> Iterator[Cluster]:
    taken: set[int] = set()
    cluster = Cluster([_cluster_port(taken) for _ in range(6)])
    try:
        for port in cluster.ports:
            _start(
                cluster,
                port,
                tmp / f"cluster-{port}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                "--cluster-replica-validity-factor",
                "0",
                "--cluster-require-full-coverage",
                "no",
            )
        for port in cluster.ports:
            _until(f"redis {port}", lambda port=port: _client(port).ping())
        nodes = [f"127.0.0.1:{port}" for port in cluster.ports]
        create = [REDIS_CLI or "redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "1", "--cluster-yes"]
        result = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        _until("the cluster", cluster.healthy)
        yield cluster
    finally:
        cluster.close()


@dataclass
class SentinelSet(Nodes):
    master: int = 0
    replica: int = 0
    sentinels: list[int] = field(default_factory=list)
    service: str = "bfc-master"

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinels)

    def current_master(self) -> int:
        for port in self.sentinels:
            with contextlib.suppress(redis.RedisError, OSError):
                _host, master = _client(port).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
                return int(master)
        raise LookupError("no sentinel answers")


@contextlib.contextmanager
def redis_sentinel(tmp: Path) -> Iterator[SentinelSet]:
    master, replica = free_port(), free_port()
    sentinels = [free_port() for _ in range(3)]
    group = SentinelSet([master, replica, *sentinels], master=master, replica=replica, sentinels=sentinels)
    try:
        _start(group, master, tmp / f"master-{master}")
        _start(group, replica, tmp / f"replica-{replica}", "--replicaof", "127.0.0.1", str(master))
        for port in (master, replica):
            _until(f"redis {port}", lambda port=port: _client(port).ping())
        _until("replication", lambda: _client(master).info("replication")["connected_slaves"] >= 1)
        for port in sentinels:
            directory = tmp / f"sentinel-{port}"
            directory.mkdir()
            conf = directory / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor {group.service} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {group.service} 500\n"
                f"sentinel failover-timeout {group.service} 3000\n"
                f"sentinel parallel-syncs {group.service} 1\n"
            )
            log = (directory / "sentinel.log").open("wb")
            group.procs[port] = subprocess.Popen(
                [REDIS_SERVER or "redis-server", str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
            )
        for port in sentinels:
            _until(f"sentinel {port}", lambda port=port: _sentinel_ready(port, group.service))
        yield group
    finally:
        group.close()


def _sentinel_ready(port: int, service: str) -> bool:
    """The sentinel knows the replica and both other sentinels: a failover can be agreed on."""
    client = _client(port)
    master = client.sentinel_master(service)
    return int(master["num-other-sentinels"]) >= 2 and bool(client.sentinel_slaves(service))
