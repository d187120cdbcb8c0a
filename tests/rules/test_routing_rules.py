"""Routing rules through the HTTP surface: a spec built by `bifrostc build`, its out/routing.py loaded and served,
requests sent with the official SDKs; the matched rule shows in `x-bifrostc-rule` and the upstream model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bifrostc.compiler.cli import main
from bifrostc.runtime.loadout import load_gateway
from tests.integration.wired import Wired, sha256, wired_server

ALICE = "sk-bfc-alice-0123456789"
BOB = "sk-bfc-bob-0123456789"
CAROL = "sk-bfc-carol-0123456789"

SPEC: dict[str, Any] = {
    "version": 1,
    "server": {"require_key": True},
    "providers": {"mock": {"type": "mock"}},
    "models": {m: {"target": f"mock/{m}"} for m in ("echo", "big", "fast", "deep", "search", "gold", "team-pick")},
    "claude_code": {
        "sonnet": "echo",
        "opus": "echo",
        "haiku": "echo",
        "routing": {
            "background": "fast",
            "thinking": "deep",
            "long_context": {"over_tokens": 2000, "route": "big"},
            "web_search": "search",
        },
    },
    "teams": {"core": {"rules": [
        {"name": "team-stream", "when": "stream && dialect == \"openai\"", "route": "team-pick"},
    ]}},
    "virtual_keys": [
        {"name": "alice", "key_sha256": sha256(ALICE), "rules": [
            {"name": "alice-gold", "when": "headers[\"x-tier\"] == \"gold\"", "route": "gold"},
        ]},
        {"name": "bob", "key_sha256": sha256(BOB), "team": "core"},
        {"name": "carol", "key_sha256": sha256(CAROL)},
    ],
    "rules": [
        {"name": "many-messages", "when": "messages > 4 && request_type == \"messages\"", "route": "mock/many"},
        {"name": "weighted", "when": "virtual_key_name == \"carol\" && max_tokens == 7",
         "targets": [{"provider": "mock", "model": "w1", "weight": 1}]},
        {"name": "low-priority", "priority": 5, "when": "model.endsWith(\"-x\")", "route": "big"},
        {"name": "high-priority", "priority": 1, "when": "model.contains(\"sonnet\") && model.endsWith(\"-x\")",
         "route": "fast"},
    ],
}  # fmt: skip


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    spec = dict(SPEC, observability={"log_store": "sqlite", "sqlite_path": str(tmp_path / "gw.db")})
    Path("gateway.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["build", "gateway.yaml", "-o", "out"]) == 0
    assert "def rule_claude_code_long_context(v: RuleVars) -> bool:" in Path("out/routing.py").read_text()
    async with wired_server(load_gateway(Path("out"))) as wired:
        yield wired


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
READ = {"name": "Read", "description": "read", "input_schema": {"type": "object", "properties": {}}}
LONG = "word " * 3000
HISTORY = [*_user("a"), {"role": "assistant", "content": "b"}, *_user("c"), {"role": "assistant", "content": "d"}]

# (key, extra headers, request fields) -> (rule, upstream model)
ANTHROPIC_CASES: list[tuple[str, dict[str, str], dict[str, Any], str | None, str]] = [
    (CAROL, {}, {"model": "sonnet", "messages": _user("hi")}, None, "echo"),
    (CAROL, {}, {"model": "claude-haiku-4-5", "messages": _user("title")}, "claude_code.background", "fast"),
    (CAROL, {}, {"model": "claude-sonnet-4-5", "messages": _user(LONG)}, "claude_code.long_context", "big"),
    (CAROL, {}, {"model": "claude-sonnet-4-5", "messages": _user("q"), "tools": [WEB_SEARCH]},
     "claude_code.web_search", "search"),
    (CAROL, {}, {"model": "claude-sonnet-4-5", "messages": _user("q"), "tools": [READ]}, None, "echo"),
    (CAROL, {}, {"model": "claude-opus-4-1", "messages": _user("think"), "max_tokens": 2048,
                 "thinking": {"type": "enabled", "budget_tokens": 1024}}, "claude_code.thinking", "deep"),
    (CAROL, {}, {"model": "claude-opus-4-1", "messages": _user("x"), "max_tokens": 2048,
                 "thinking": {"type": "disabled"}}, None, "echo"),
    (CAROL, {}, {"model": "sonnet", "messages": [*HISTORY, *_user("e")]}, "many-messages", "many"),
    (CAROL, {}, {"model": "sonnet", "messages": _user("w"), "max_tokens": 7}, "weighted", "w1"),
    (CAROL, {}, {"model": "claude-sonnet-x", "messages": _user("p")}, "high-priority", "fast"),
    (CAROL, {"x-tier": "gold"}, {"model": "sonnet", "messages": _user("g")}, None, "echo"),
    (ALICE, {"x-tier": "gold"}, {"model": "sonnet", "messages": _user("g")}, "alice-gold", "gold"),
    (ALICE, {"X-Tier": "gold"}, {"model": "claude-haiku-4-5", "messages": _user("g")}, "alice-gold", "gold"),
    (ALICE, {"x-tier": "silver"}, {"model": "claude-haiku-4-5", "messages": _user("g")},
     "claude_code.background", "fast"),
    (BOB, {}, {"model": "claude-haiku-4-5", "messages": _user("t")}, "claude_code.background", "fast"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "headers", "fields", "rule", "upstream"), ANTHROPIC_CASES)
async def test_anthropic_requests_reach_the_route_their_rule_picks(
    served: Wired, key: str, headers: dict[str, str], fields: dict[str, Any], rule: str | None, upstream: str
) -> None:
    fields = {"max_tokens": 64, **fields}
    raw = await served.anthropic(key).messages.with_raw_response.create(**fields, extra_headers=headers)
    assert raw.headers.get("x-bifrostc-rule") == rule
    assert raw.headers["x-bifrostc-model"] == upstream
    await raw.parse()


async def test_a_team_rule_applies_to_its_keys_only_and_before_the_global_ones(served: Wired) -> None:
    for key, rule, upstream in ((BOB, "team-stream", "team-pick"), (CAROL, None, "echo")):
        stream = await served.openai(key).chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "s"}], stream=True
        )
        assert stream.response.headers.get("x-bifrostc-rule") == rule
        assert stream.response.headers["x-bifrostc-model"] == upstream
        _ = [chunk async for chunk in stream]
    plain = await served.openai(BOB).chat.completions.with_raw_response.create(
        model="sonnet", messages=[{"role": "user", "content": "s"}]
    )
    assert "x-bifrostc-rule" not in plain.headers  # the team rule wants a stream


def test_the_generated_module_lists_rules_in_evaluation_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("gateway.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    assert main(["build", "gateway.yaml", "-o", "out"]) == 0
    gateway = load_gateway(Path("out"))
    assert [(r.scope, r.name) for r in gateway.rules] == [
        ("key", "alice-gold"),
        ("team", "team-stream"),
        ("global", "claude_code.long_context"),
        ("global", "claude_code.web_search"),
        ("global", "claude_code.thinking"),
        ("global", "claude_code.background"),
        ("global", "many-messages"),
        ("global", "weighted"),
        ("global", "high-priority"),
        ("global", "low-priority"),
    ]
    json.dumps([r.when for r in gateway.rules])  # the CEL source is kept for explain and the dashboard


KEY_NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}


@pytest.mark.parametrize(("key", "headers", "fields", "rule", "upstream"), ANTHROPIC_CASES)
def test_explain_gives_the_answer_the_gateway_gives(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str,
    headers: dict[str, str],
    fields: dict[str, Any],
    rule: str | None,
    upstream: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("gateway.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    Path("req.json").write_text(json.dumps({"max_tokens": 64, **fields}))
    argv = ["explain", "gateway.yaml", "--request", "req.json", "--key", KEY_NAMES[key]]
    argv += [arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    matched = [line.split(" ")[1] for line in out.splitlines() if ": MATCHED: " in line]
    assert matched == ([rule] if rule else [])
    assert f"mock/{upstream} " in out or f"mock/{upstream}\n" in out or f"mock/{upstream} (weight" in out, out


async def test_the_cache_keys_on_the_route_a_rule_picked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same body to `sonnet` with and without alice's x-tier: gold goes to two routes; the second must not be
    # served the first one's cached answer.
    monkeypatch.chdir(tmp_path)
    spec = dict(SPEC, observability={"log_store": "sqlite", "sqlite_path": str(tmp_path / "gw.db")})
    spec["cache"] = {"mode": "exact", "backend": "memory", "ttl_seconds": 600}
    Path("gateway.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["build", "gateway.yaml", "-o", "out"]) == 0
    async with wired_server(load_gateway(Path("out"))) as wired:
        client = wired.anthropic(ALICE)
        fields: dict[str, Any] = {"model": "sonnet", "max_tokens": 64, "messages": _user("same question")}
        gold = await client.messages.with_raw_response.create(**fields, extra_headers={"x-tier": "gold"})
        plain = await client.messages.with_raw_response.create(**fields)
        again = await client.messages.with_raw_response.create(**fields, extra_headers={"x-tier": "gold"})
    assert gold.headers["x-bifrostc-model"] == "gold" and "x-bifrostc-cache" not in gold.headers
    assert "x-bifrostc-cache" not in plain.headers and plain.headers["x-bifrostc-model"] == "echo"
    assert again.headers["x-bifrostc-cache"] == "hit"  # the gold route's own entry


async def test_the_matched_rule_is_in_the_request_log_its_detail_and_the_metrics(served: Wired) -> None:
    client = served.anthropic(CAROL)
    await client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=_user("title"))
    await client.messages.create(model="sonnet", max_tokens=64, messages=_user("plain"))
    newest, oldest = await served.logs(2)
    assert (oldest["rule"], oldest["upstream_model"]) == ("claude_code.background", "fast")
    assert (newest["rule"], newest["upstream_model"]) == (None, "echo")
    detail = await served.http.get(f"{served.url}/api/logs/{oldest['id']}")
    assert detail.status_code == 200 and detail.json()["rule"] == "claude_code.background"
    metrics = (await served.http.get(f"{served.url}/metrics", headers={"x-api-key": CAROL})).text
    assert 'bifrostc_rule_requests_total{route="fast",rule="claude_code.background",status_class="2xx"} 1.0' in metrics
    assert metrics.count("bifrostc_rule_requests_total{") == 1  # the unmatched request counts under no rule


# count_tokens takes no max_tokens: a rule on it (`weighted`) sees 0 there, as explain does for such a body.
COUNT_CASES = [case for case in ANTHROPIC_CASES if case[3] != "weighted"]


@pytest.mark.parametrize(("key", "headers", "fields", "rule", "upstream"), COUNT_CASES)
async def test_count_tokens_takes_the_route_the_messages_endpoint_takes(
    served: Wired, key: str, headers: dict[str, str], fields: dict[str, Any], rule: str | None, upstream: str
) -> None:
    counted = await served.anthropic(key).messages.with_raw_response.count_tokens(
        **{k: v for k, v in fields.items() if k != "max_tokens"}, extra_headers=headers
    )
    assert counted.headers.get("x-bifrostc-rule") == rule
    assert (await counted.parse()).input_tokens > 0
