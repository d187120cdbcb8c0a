"""examples/deploy: the Helm chart renders to valid Kubernetes objects, the Dockerfile and compose file run
the processes the integration suite runs, and that topology (two replicas behind HAProxy, Redis, PostgreSQL)
serves through the load balancer with this repository's haproxy.cfg."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.replicas import _wait_healthy, build, free_port
from tests.ops.helm_render import render_chart

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"
CHART = DEPLOY / "helm" / "bifrostc"
K8S_VERSION = "1.30.0"
REDIS_URL = "redis://127.0.0.1:6379/0"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"


def _spec_env_names() -> set[str]:
    """Every environment variable the deploy spec reads (the *_env fields)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("_env") and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((DEPLOY / "gateway.yaml").read_text()))
    return found


@pytest.fixture
def chart_with_out(tmp_path: Path) -> Path:
    chart = tmp_path / "bifrostc"
    shutil.copytree(CHART, chart)
    build(DEPLOY / "gateway.yaml", chart / "out")  # what the chart's values.yaml tells users to do
    return chart


def _objects(chart: Path) -> dict[str, dict[str, Any]]:
    docs = [yaml.safe_load(text) for text in render_chart(chart).values()]
    return {doc["kind"]: doc for doc in docs}


def test_the_chart_renders_every_object_and_they_validate_against_the_kubernetes_schemas(chart_with_out: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    objects = _objects(chart_with_out)
    assert set(objects) == {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    for obj in objects.values():
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)

    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["envFrom"] == [{"secretRef": {"name": "bifrostc-secrets"}}]  # references, no values
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["args"][:3] == ["bifrostc", "serve", "/app/out"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert (
        mounts["out"] == "/app/out" and volumes["out"]["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    )
    data = objects["ConfigMap"]["data"]
    assert {"routing.py", "MANIFEST.json"} <= set(data)
    assert data["routing.py"] == (chart_with_out / "out" / "routing.py").read_text()  # byte for byte
    labels = pod["metadata"]["labels"]
    assert objects["Service"]["spec"]["selector"] == labels == deployment["spec"]["selector"]["matchLabels"]
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "value" not in str(container.get("env", [])).replace("'value': '1'", "")  # only the access-log flag


def test_the_dockerfile_is_multi_stage_non_root_and_checks_readiness() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, flags=re.M)) == 2
    user = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert user and user[-1] not in ("root", "0")
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*?(?<!\\)\n", text, flags=re.M | re.S)
    assert "/health/ready" in healthcheck
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, flags=re.M))
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.M):
        source = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], source)
        assert (DEPLOY.parents[1] / source).exists(), source  # every COPY source is in the build context
    cmd = yaml.safe_load(re.search(r"^CMD (\[.*\])$", text, flags=re.M)[1])  # type: ignore[index]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert compose["services"]["gateway-1"]["command"] == cmd


def test_compose_names_two_replicas_a_load_balancer_redis_and_postgres_with_every_variable_the_spec_reads() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"gateway-1", "gateway-2", "lb", "redis", "postgres"}
    assert services["gateway-1"] == services["gateway-2"]
    assert _spec_env_names() <= set(services["gateway-1"]["environment"])
    assert services["lb"]["image"].startswith("haproxy")
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert re.findall(r"^\s*server (\S+) (\S+):8080", config, flags=re.M) == [
        ("gateway-1", "gateway-1"),
        ("gateway-2", "gateway-2"),
    ]
    spec = yaml.safe_load((DEPLOY / "gateway.yaml").read_text())
    assert spec["server"]["state"] == "redis" and spec["observability"]["log_store"] == "postgres"


def _services_up() -> bool:
    import psycopg
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        psycopg.connect(PG_BASE, connect_timeout=2).close()
    except (redis.RedisError, psycopg.Error):
        return False
    return True


@pytest.fixture
def pg_schema() -> Iterator[str]:
    import psycopg

    schema = f"bifrostc_deploy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _local_command(command: list[str], out: Path, port: int) -> list[str]:
    """compose's gateway command on this machine: the built out/, loopback, a free port."""
    replaced = {"/app/out": str(out), "0.0.0.0": "127.0.0.1", "8080": str(port)}
    return [sys.executable, "-m", "bifrostc.compiler.cli", *[replaced.get(arg, arg) for arg in command[1:]]]


def _local_haproxy_cfg(lb_port: int, ports: list[int]) -> str:
    config = (DEPLOY / "haproxy.cfg").read_text().replace("bind :8080", f"bind 127.0.0.1:{lb_port}")
    for index, port in enumerate(ports, start=1):
        config = config.replace(f"gateway-{index}:8080", f"127.0.0.1:{port}")
    return config.replace("log stdout format raw local0", "")


@pytest.mark.services
@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
async def test_the_compose_topology_serves_through_haproxy(tmp_path: Path, pg_schema: str) -> None:
    if not _services_up():
        pytest.skip("needs Redis and PostgreSQL on 127.0.0.1")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    gateway = compose["services"]["gateway-1"]
    out = tmp_path / "out"
    build(DEPLOY / "gateway.yaml", out)
    team_key = f"sk-bfc-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        **{name: str(value) for name, value in gateway["environment"].items() if not str(value).startswith("$")},
        "BIFROSTC_REDIS_URL": REDIS_URL,
        "BIFROSTC_PG_DSN": f"{PG_BASE}?options=-csearch_path%3D{pg_schema}",
        "BIFROSTC_ADMIN_KEY": "admin-deploy-0123456789",
        "BIFROSTC_TEAM_KEY": team_key,
        "UPSTREAM_ANTHROPIC_API_KEY": "sk-ant-unused-0123456789",
    }
    ports, lb_port = [free_port(), free_port()], free_port()
    (tmp_path / "haproxy.cfg").write_text(_local_haproxy_cfg(lb_port, ports))
    procs = [
        subprocess.Popen(
            _local_command(gateway["command"], out, port), env=env, cwd=tmp_path, stderr=subprocess.DEVNULL
        )
        for port in ports
    ]
    lb: subprocess.Popen[bytes] | None = None
    try:
        for port, proc in zip(ports, procs, strict=True):
            await asyncio.to_thread(_wait_healthy, f"http://127.0.0.1:{port}", proc, 30.0, "/health/ready")
        # After the replicas are ready, as compose's depends_on (service_healthy) orders it.
        lb = subprocess.Popen(["haproxy", "-db", "-f", str(tmp_path / "haproxy.cfg")], stderr=subprocess.DEVNULL)
        await asyncio.to_thread(_wait_healthy, f"http://127.0.0.1:{lb_port}", lb, 30.0, "/health/ready")
        body = {"model": "echo", "max_tokens": 16, "messages": [{"role": "user", "content": "through the lb"}]}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{lb_port}", timeout=30) as client:
            replies = await asyncio.gather(
                *(client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": team_key}) for _ in range(8))
            )
            assert [r.status_code for r in replies] == [200] * 8
            refused = await client.post("/anthropic/v1/messages", json=body)
            assert refused.status_code == 401  # require_key holds behind the balancer too
        served = []
        async with httpx.AsyncClient(timeout=5) as client:
            for port in ports:
                admin = {"authorization": f"Bearer {env['BIFROSTC_ADMIN_KEY']}"}  # require_key guards /metrics
                metrics = (await client.get(f"http://127.0.0.1:{port}/metrics", headers=admin)).text
                counts = re.findall(
                    r'^bifrostc_llm_requests_total\{[^}]*status_class="2xx"[^}]*\} (\S+)', metrics, re.M
                )
                served.append(sum(float(c) for c in counts))
        assert sum(served) == 8 and all(count > 0 for count in served), served  # both replicas took traffic
    finally:
        running = [*procs, *([lb] if lb is not None else [])]
        for proc in running:
            proc.terminate()
        for proc in running:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
