"""/metrics of a real `bifrostc serve` after model and MCP traffic: the labelled series docs/METRICS.md names, and
every metric the shipped Grafana dashboard (docs/grafana/bifrostc-dashboard.json) queries."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.serve_process import serve_spec
from tests.mcp.mcp_harness import STDIO_SERVER, mcp_client

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "bifrostc-dashboard.json"
METRICS_DOC = ROOT / "docs" / "METRICS.md"
KEY = "sk-bfc-metrics-0123456789abcdef"
SPEC = f"""version: 1
server: {{port: {{port}}}}
providers:
  mock: {{type: mock}}
models:
  echo: {{target: mock/echo, pricing: {{input: 1000000, output: 1000000}}}}
teams:
  platform: {{}}
virtual_keys:
  - {{name: metrics-key, key_env: METRICS_KEY, team: platform}}
mcp_servers:
  alpha:
    transport: stdio
    command: [{json.dumps(sys.executable)}, {json.dumps(str(STDIO_SERVER))}]
observability: {{log_store: sqlite, sqlite_path: gw.db}}
"""


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported_names(text: str) -> set[str]:
    """Every series name the families on the page can carry, samples or not (a labelled histogram no request
    has observed yet, e.g. TTFT before the first stream, is declared with no samples)."""
    return {f.name + suffix for f in text_string_to_metric_families(text) for suffix in _SUFFIXES.get(f.type, ("",))}


def _samples(text: str) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(dict(sample.labels))
    return found


def _family(name: str) -> str:
    return re.sub(r"_(bucket|sum|count|total)$", "", name)


def _queried_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [var["query"]["query"] for var in dashboard["templating"]["list"] if isinstance(var.get("query"), dict)]
    return {name for expr in exprs for name in re.findall(r"\bbifrostc_[a-z0-9_]+", expr)}


async def _traffic(url: str) -> None:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    body = {"model": "echo", "max_tokens": 32, "messages": [{"role": "user", "content": "hello metrics"}]}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        assert (await client.post("/anthropic/v1/messages", json=body)).status_code == 200
        streamed = await client.post("/anthropic/v1/messages", json={**body, "stream": True})
        assert streamed.status_code == 200 and "message_stop" in streamed.text
        assert (await client.post("/anthropic/v1/messages", json={**body, "model": "nope"})).status_code == 404
    async with mcp_client(f"{url}/mcp", key=KEY) as mcp:
        assert not (await mcp.call_tool("alpha__add", {"a": 1, "b": 2})).is_error


async def test_metrics_carry_provider_model_key_team_and_every_dashboard_query_has_its_series(tmp_path: Path) -> None:
    async with serve_spec(tmp_path, SPEC, {"METRICS_KEY": KEY}) as served:
        await _traffic(served.url)
        async with httpx.AsyncClient(base_url=served.url) as client:
            page = (await client.get("/metrics")).text
            overview = (await client.get("/api/overview")).json()
    samples = _samples(page)

    ok = [s for s in samples["bifrostc_llm_requests_total"] if s["status_class"] == "2xx"]
    assert {(s["provider"], s["model"], s["key"], s["team"], s["cache"]) for s in ok} == {
        ("mock", "echo", "metrics-key", "platform", "miss")
    }
    assert any(s["status_class"] == "4xx" for s in samples["bifrostc_llm_requests_total"])
    directions = {s["direction"] for s in samples["bifrostc_llm_tokens_total"] if s["key"] == "metrics-key"}
    assert {"input", "output"} <= directions
    assert samples["bifrostc_llm_cost_usd_total"] == [
        {"provider": "mock", "model": "echo", "key": "metrics-key", "team": "platform"}
    ]
    assert {"provider": "mock", "model": "echo", "le": "+Inf"} in samples["bifrostc_upstream_latency_seconds_bucket"]
    assert any(s["route"] == "echo" for s in samples["bifrostc_upstream_attempts_bucket"])
    assert samples["bifrostc_mcp_tool_calls_total"] == [
        {"server": "alpha", "tool": "alpha__add", "key": "metrics-key", "status": "ok"}
    ]

    queried = _queried_metrics()
    assert len(queried) >= 10
    missing = sorted(name for name in queried if name not in _exported_names(page))
    assert not missing, f"the Grafana dashboard queries metrics /metrics does not export: {missing}"
    documented = {_family(name) for name in re.findall(r"`(bifrostc_[a-z0-9_]+)`", METRICS_DOC.read_text())}
    undocumented = sorted(name for name in queried if _family(name) not in documented)
    assert not undocumented, f"docs/METRICS.md does not name: {undocumented}"
    # The dashboard overview lists the same tool calls.
    assert overview["mcp_tool_calls"] == [
        {"server": "alpha", "tool": "alpha__add", "key": "metrics-key", "status": "ok", "calls": 1}
    ]
    assert overview["totals"]["requests"] == 3
