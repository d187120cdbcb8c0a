"""HAProxy (Debian's package) in front of gateway replicas, and the slow fake upstream, as test processes.

The balancer health-checks ``/health/ready`` every 300 ms (one failure takes a replica out, one success puts
it back), retries a request whose connection failed or which got no response at all on another replica
(``retry-on conn-failure empty-response``: the replica died before answering), and names the replica that
answered in ``x-served-by``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.scale.gateways import free_port

HAPROXY = shutil.which("haproxy") or next(
    (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
)
DEADLINE_S = 30.0  # guard against a hang only

CONFIG = """\
global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout check 2s
  retries 3
  option redispatch
  retry-on conn-failure empty-response
frontend gateway
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk
  http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host 127.0.0.1
  default-server inter 300 fall 1 rise 1 check
  http-response set-header x-served-by %s
{servers}
"""


def have_haproxy() -> bool:
    return HAPROXY is not None


@contextlib.contextmanager
def haproxy(tmp: Path, backends: list[int]) -> Iterator[str]:
    """HAProxy on a free port balancing over ``backends`` (named by port); yields its base URL."""
    port = free_port()
    servers = "\n".join(f"  server r{backend} 127.0.0.1:{backend}" for backend in backends)
    conf = tmp / "haproxy.cfg"
    conf.write_text(CONFIG.format(port=port, servers=servers))
    log = (tmp / "haproxy.log").open("wb")
    proc = subprocess.Popen([HAPROXY or "haproxy", "-db", "-f", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp / "haproxy.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)  # polling a separate process: there is no event to await
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def slow_upstream(key: str, delay_s: float = 0.05) -> Iterator[int]:
    """tests/scale/slow_upstream.py in its own process (``delay_s`` between stream deltas); yields its port."""
    script = Path(__file__).with_name("slow_upstream.py")
    env = {"UPSTREAM_ANTHROPIC_KEY": key, "SLOW_UPSTREAM_DELAY_S": str(delay_s), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("ready "), line
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
