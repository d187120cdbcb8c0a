"""Liveness, readiness and health (issue 13 item 9): /health/live always answers; /health/ready is 503 while a
required health source fails or the last routing.py could not be loaded; /health is 503 when degraded and names
the spec it serves (SOURCE_SHA256, FORMAT_VERSION). A subsystem plugs in through runtime/health.HealthSource."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bifrostc.runtime.health import HealthSource
from tests.integration.replicas import build, replicas
from tests.integration.wired import base_spec, compile_gateway, wired_server
from tests.reliability.specs import mock_spec

SPEC = mock_spec()


async def _wait_status(client: httpx.AsyncClient, path: str, status: int, timeout_s: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)  # the routing watcher polls routing.py once a second


def _rebuilt(out: Path, routing_py: str) -> None:
    """What a rebuild writes: routing.py and its sha256 in MANIFEST.json (serve refuses a hand-edited module)."""
    manifest = json.loads((out / "MANIFEST.json").read_text())
    manifest["files"]["routing.py"] = hashlib.sha256(routing_py.encode()).hexdigest()
    (out / "routing.py").write_text(routing_py)
    (out / "MANIFEST.json").write_text(json.dumps(manifest))


async def test_serve_reports_its_spec_and_goes_unready_while_a_rebuild_is_broken(tmp_path: Path) -> None:
    spec = tmp_path / "gateway.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    build(spec, out)
    routing = out / "routing.py"
    good = routing.read_text()
    sha = re.search(r'^SOURCE_SHA256 = "([0-9a-f]{64})"$', good, re.MULTILINE)
    assert sha is not None
    with replicas(out, 1, {}, cwd=tmp_path) as [url]:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            health = await client.get("/health")
            ready = await client.get("/health/ready")
            _rebuilt(out, good + "\nraise RuntimeError('a broken rebuild')\n")
            broken = await _wait_status(client, "/health/ready", 503)
            broken_health = await client.get("/health")
            live = await client.get("/health/live")
            answer = await client.post(
                "/anthropic/v1/messages",
                json={"model": "sonnet", "max_tokens": 8, "messages": [{"role": "user", "content": "still there?"}]},
            )
            _rebuilt(out, good + "\n# rebuilt\n")
            fixed = await _wait_status(client, "/health/ready", 200)

    assert health.status_code == 200
    assert health.json()["spec"] == {"sha256": sha.group(1), "format_version": 1}
    assert health.json()["checks"] == {"log_store": True}
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "checks": {"log_store": True}}
    assert broken.status_code == 503 and "a broken rebuild" in broken.json()["routing_error"]
    assert broken_health.status_code == 503 and broken_health.json()["status"] == "degraded"
    assert broken_health.json()["spec"]["sha256"] == sha.group(1)  # the spec still served, not the broken file
    assert live.status_code == 200 and answer.status_code == 200  # the previous gateway keeps serving
    assert fixed.status_code == 200


@dataclass
class Switch:
    """A health source the test turns off and on (what the Redis governance store plugs in the same way)."""

    name: str
    required: bool
    up: bool = True

    async def check(self) -> bool:
        return self.up


async def test_a_plugged_in_source_drives_readiness_when_required_and_health_always(tmp_path: Path) -> None:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["require_key"] = False
    gateway = compile_gateway(tmp_path, spec)
    store, extra = Switch("governance_store", required=True), Switch("nice_to_have", required=False)
    assert isinstance(store, HealthSource)
    async with wired_server(gateway) as wired:
        wired.parts.health_sources += [store, extra]
        http = wired.http
        all_up = await http.get(f"{wired.url}/health/ready")
        extra.up = False
        optional_down = (await http.get(f"{wired.url}/health/ready"), await http.get(f"{wired.url}/health"))
        store.up = False
        required_down = await http.get(f"{wired.url}/health/ready")
        live = await http.get(f"{wired.url}/health/live")

    assert all_up.status_code == 200
    assert optional_down[0].status_code == 200  # optional sources never take the gateway out of rotation
    assert optional_down[1].status_code == 503 and optional_down[1].json()["checks"]["nice_to_have"] is False
    assert required_down.status_code == 503
    assert required_down.json()["checks"] == {"log_store": True, "governance_store": False}
    assert live.status_code == 200 and live.json() == {"status": "live"}
