"""The dashboard shows the last probe of each route: `bifrostc probe --out out/` next to a running `bifrostc serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.integration.serve_process import serve_spec
from tests.probe.fakes import fake_upstreams
from tests.probe.test_probe_cli import bifrostc

ADMIN = "admin-probe-0123456789"


def _spec(upstream: str, db: Path) -> str:
    return f"""version: 1
server: {{port: {{port}}, admin_key_env: PROBE_ADMIN}}
providers:
  p-good: {{type: openai, base_url: '{upstream}/good/v1', api_key_env: PROBE_KEY}}
  p-no-tool: {{type: openai, base_url: '{upstream}/no_tool/v1', api_key_env: PROBE_KEY}}
models:
  good: {{target: p-good/gpt-5}}
  no-tools: {{target: p-no-tool/gpt-5}}
claude_code: {{sonnet: good}}
observability: {{log_store: sqlite, sqlite_path: '{db}'}}
"""


async def test_the_dashboard_shows_the_probe_written_to_the_served_out_dir(live_server: Any, tmp_path: Path) -> None:
    env = {"PROBE_KEY": "sk-probe-test", "PROBE_ADMIN": ADMIN}
    async with (
        live_server(fake_upstreams([])) as upstream,
        serve_spec(tmp_path, _spec(upstream, tmp_path / "gw.db"), env) as served,
    ):
        async with httpx.AsyncClient(base_url=served.url) as client:
            assert (await client.get("/api/probe")).status_code == 401  # key-gated like /api/logs
            admin = {"x-admin-key": ADMIN}
            before = await client.get("/api/probe", headers=admin)
            assert before.status_code == 200 and before.json() == {"probed_at": None, "routes": []}

            code, _, err = await bifrostc(tmp_path, "probe", "gateway.yaml", "--out", "out")
            assert code == 0, err  # the sonnet tier is ready; no-tools is not, but no tier points at it

            after = (await client.get("/api/probe", headers=admin)).json()
    assert after["probed_at"]
    routes = {r["route"]: r for r in after["routes"]}
    assert routes["good"]["status"] == "ready" and routes["good"]["tiers"] == ["sonnet"]
    assert routes["no-tools"]["status"] == "not_ready"
    assert routes["no-tools"]["targets"][0]["provider"] == "p-no-tool" and routes["no-tools"]["targets"][0]["reasons"]
