"""`bifrostc probe` through the real command, against fakes that misbehave in each way the probe checks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.probe.fakes import fake_upstreams

CASES = {
    # route: (provider type, mode, model)
    "good-openai": ("openai", "good", "gpt-5"),
    "args-at-end": ("openai", "args_at_end", "gpt-5"),
    "no-usage": ("openai", "no_usage", "gpt-5"),
    "no-parallel": ("openai", "reject_parallel", "gpt-5"),
    "no-tools": ("openai", "no_tool", "gpt-5"),
    "bad-key": ("openai", "bad_key", "gpt-5"),
    "unpriced": ("openai", "good", "house-model-7"),
    "claude-thinking": ("anthropic", "good", "claude-sonnet-4-5"),
    "reasoning-refused": ("anthropic", "reject_reasoning", "claude-sonnet-4-5"),
    "wrong-stop": ("anthropic", "wrong_stop", "claude-haiku-4-5"),
    "gemini-thinking": ("gemini", "good", "gemini-2.5-pro"),
}


def spec(upstream: str, tiers: str) -> str:
    providers, models = [], []
    for route, (kind, mode, model) in CASES.items():
        base = {"openai": f"{upstream}/{mode}/v1", "gemini": f"{upstream}/{mode}/v1beta"}.get(
            kind, f"{upstream}/{mode}"
        )
        providers.append(f"  p-{route}: {{type: {kind}, base_url: '{base}', api_key_env: PROBE_KEY}}")
        models.append(f"  {route}: {{target: p-{route}/{model}}}")
    body = "\n".join(["version: 1", "providers:", *providers, "models:", *models])
    return f"{body}\nclaude_code: {tiers}\nobservability: {{log_store: none}}\n"


async def probe(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    (tmp_path / "gateway.yaml").write_text(text)
    return await bifrostc(tmp_path, "probe", "gateway.yaml", *args)


async def bifrostc(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """The real command, run in `tmp_path` with the fakes' key set."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bifrostc.compiler.cli",
        *args,
        cwd=tmp_path,
        env={**os.environ, "PROBE_KEY": "sk-probe-test"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def by_route(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {route["route"]: route["targets"][0] for route in document["routes"]}


async def test_each_misbehaviour_gets_its_verdict(live_server: Any, tmp_path: Path) -> None:
    seen: list[str] = []
    async with live_server(fake_upstreams(seen)) as upstream:
        code, out, err = await probe(
            tmp_path, spec(upstream, "{sonnet: claude-thinking, haiku: no-tools}"), "--format", "json", "--out", "out"
        )
    assert code == 1, err  # haiku points at a route that cannot call tools
    assert "not ready: no-tools" in err
    results = by_route(json.loads(out))
    assert json.loads((tmp_path / "out" / "probe.json").read_text())["routes"] == json.loads(out)["routes"]

    good = results["good-openai"]
    assert good["status"] == "ready", good
    assert good["arguments_streamed"] and good["parallel_calls"] == 2 and good["usage"]["input_tokens"] > 0

    assert results["args-at-end"]["status"] == "caveats"
    assert any("in one piece at the end" in c for c in results["args-at-end"]["caveats"])
    assert results["no-usage"]["status"] == "caveats"
    assert any("no usage reported" in c for c in results["no-usage"]["caveats"])
    assert results["unpriced"]["status"] == "caveats"
    assert any("no price" in c for c in results["unpriced"]["caveats"]) and "add it under `pricing:`" in str(
        results["unpriced"]["hints"]
    )

    refused = results["no-parallel"]
    assert refused["status"] == "not_ready"
    [reason] = refused["reasons"]
    assert (
        reason.startswith("the parallel-tool turn failed: HTTP 400")
        and "parallel tool calls are not supported" in reason
    )
    assert results["no-tools"]["status"] == "not_ready"
    assert "did not call write_file" in results["no-tools"]["reasons"][0]
    assert results["bad-key"]["status"] == "not_ready" and "HTTP 401" in results["bad-key"]["reasons"][0]
    assert "check the provider's key" in results["bad-key"]["hints"][0]

    claude = results["claude-thinking"]
    assert claude["status"] == "ready", claude  # the signed thinking went back first in turn 2, as the fake demands
    assert claude["thinking"] and claude["count_tokens"] == "provider"
    reasoning = results["reasoning-refused"]
    assert reasoning["status"] == "not_ready"
    assert "turn 2 refused turn 1's reasoning: HTTP 400" in reasoning["reasons"][0]
    assert "Invalid `signature`" in reasoning["reasons"][0]
    gemini = results["gemini-thinking"]  # the fake refuses a call that comes back without its thought signature
    assert gemini["thinking"] and not any("turn 2" in r for r in gemini["reasons"]), gemini
    assert gemini["status"] == "caveats" and gemini["caveats"] == [
        "tool arguments arrive in one piece at the end, not streamed: long edits show no progress"
    ]
    wrong = results["wrong-stop"]
    assert wrong["status"] == "caveats" and "stop reason 'end_turn' on a tool turn" in wrong["caveats"][0]


async def test_ready_tiers_exit_zero_and_the_table_explains_caveats(live_server: Any, tmp_path: Path) -> None:
    async with live_server(fake_upstreams([])) as upstream:
        code, out, err = await probe(
            tmp_path, spec(upstream, "{sonnet: claude-thinking, haiku: args-at-end}"), "sonnet", "haiku"
        )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ROUTE", "TARGET", "VERDICT", "TTFT", "ARGS", "USAGE", "REASONING", "PARALLEL", "COUNT"]
    assert any(line.startswith("claude-thinking") and "ready" in line and "kept" in line for line in lines)
    assert "args-at-end -> p-args-at-end/gpt-5 (Claude Code tier: haiku): works with caveats" in out


async def test_dry_run_sends_nothing_and_prices_the_script(live_server: Any, tmp_path: Path) -> None:
    seen: list[str] = []
    async with live_server(fake_upstreams(seen)) as upstream:
        code, out, _ = await probe(tmp_path, spec(upstream, "{sonnet: good-openai}"), "good-openai", "--dry-run")
    assert code == 0 and seen == []
    assert "good-openai: p-good-openai/gpt-5 tool turn: 1 message(s), 2 tools, max_tokens" in out
    assert "total ~ $0.0" in out


async def test_an_unknown_route_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = await probe(tmp_path, spec("http://127.0.0.1:9", "{sonnet: good-openai}"), "nope")
    assert code == 2 and "no route, alias or tier named 'nope'" in err


async def test_explain_shows_the_last_probe_written_to_out(live_server: Any, tmp_path: Path) -> None:
    async with live_server(fake_upstreams([])) as upstream:
        code, _, err = await probe(
            tmp_path, spec(upstream, "{sonnet: good-openai, haiku: no-usage}"), "sonnet", "haiku", "--out", "out"
        )
    assert code == 0, err
    code, out, _ = await bifrostc(tmp_path, "explain", "gateway.yaml", "haiku", "--out", "out")
    assert code == 0
    assert "  last probe (" in out and "): works with caveats" in out
    assert "    p-no-usage/gpt-5: works with caveats (no usage reported" in out
