"""The explain-vs-gateway table: each request is sent to the running gateway with an official SDK (Anthropic
messages, OpenAI chat completions, OpenAI Responses) and given to `bifrostc explain --request` with the same key,
headers and dialect; both must name the same rule and the same upstream model, and that must be the expected one."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bifrostc.compiler.cli import main
from bifrostc.runtime.loadout import load_gateway
from tests.integration.wired import Wired, sha256, wired_server
from tests.rules.test_routing_rules import ALICE, ANTHROPIC_CASES, BOB, CAROL, HISTORY, KEY_NAMES, SPEC, _user

DAVE = "sk-bfc-dave-0123456789"
TABLE_SPEC: dict[str, Any] = {
    **SPEC,
    "customers": {"acme": {"rules": [{"name": "acme-large", "when": "max_tokens > 5000", "route": "big"}]}},
    "teams": {**SPEC["teams"], "ops": {"customer": "acme"}},
    "virtual_keys": [*SPEC["virtual_keys"], {"name": "dave", "key_sha256": sha256(DAVE), "team": "ops"}],
    "rules": [
        *SPEC["rules"],
        {"name": "header-route", "when": 'headers["x-route"] == "deep"', "route": "deep"},
        {"name": "team-name", "when": 'team_name == "ops" && messages > 2', "route": "deep"},
        {"name": "session-pin", "when": 'session_id.startsWith("sess-pin")', "route": "gold"},
        {"name": "chat-lookup", "when": 'request_type == "chat" && "lookup" in tools', "route": "search"},
        {"name": "responses-stream", "when": 'dialect == "responses" && stream', "route": "fast"},
    ],
}
LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
SAY = [{"role": "user", "content": "hi"}]
KEYS = {**KEY_NAMES, DAVE: "dave"}

# (dialect, key, headers, body) -> (rule, upstream model)
Case = tuple[str, str, dict[str, str], dict[str, Any], str | None, str]
CASES: list[Case] = [
    *(("anthropic", k, hs, {"max_tokens": 64, **body}, rule, up) for k, hs, body, rule, up in ANTHROPIC_CASES),
    ("anthropic", DAVE, {}, {"model": "sonnet", "max_tokens": 6000, "messages": _user("c")}, "acme-large", "big"),
    ("anthropic", DAVE, {}, {"model": "sonnet", "max_tokens": 64, "messages": HISTORY[:3]}, "team-name", "deep"),
    ("anthropic", CAROL, {}, {"model": "sonnet", "max_tokens": 64, "messages": HISTORY[:3]}, None, "echo"),
    ("anthropic", CAROL, {"x-route": "deep"}, {"model": "sonnet", "max_tokens": 64, "messages": _user("h")},
     "header-route", "deep"),
    ("anthropic", ALICE, {"x-route": "deep", "x-tier": "gold"},
     {"model": "sonnet", "max_tokens": 64, "messages": _user("h")}, "alice-gold", "gold"),
    ("anthropic", CAROL, {"x-claude-code-session-id": "sess-pin-1"},
     {"model": "sonnet", "max_tokens": 64, "messages": _user("s")}, "session-pin", "gold"),
    ("openai", CAROL, {}, {"model": "sonnet", "messages": SAY}, None, "echo"),
    ("openai", BOB, {}, {"model": "sonnet", "messages": SAY, "stream": True}, "team-stream", "team-pick"),
    ("openai", CAROL, {}, {"model": "sonnet", "messages": SAY, "stream": True}, None, "echo"),
    ("openai", CAROL, {}, {"model": "claude-haiku-4-5", "messages": SAY}, "claude_code.background", "fast"),
    ("openai", CAROL, {}, {"model": "sonnet", "messages": SAY, "tools": [LOOKUP]}, "chat-lookup", "search"),
    ("openai", CAROL, {}, {"model": "sonnet", "messages": SAY, "max_tokens": 7}, "weighted", "w1"),
    ("openai", DAVE, {}, {"model": "sonnet", "messages": SAY, "max_tokens": 6000}, "acme-large", "big"),
    ("openai", ALICE, {"x-tier": "gold"}, {"model": "sonnet", "messages": SAY}, "alice-gold", "gold"),
    ("openai", CAROL, {}, {"model": "claude-sonnet-x", "messages": SAY}, "high-priority", "fast"),
    ("openai", CAROL, {"x-route": "deep"}, {"model": "sonnet", "messages": SAY}, "header-route", "deep"),
    ("responses", CAROL, {}, {"model": "sonnet", "input": "hi"}, None, "echo"),
    ("responses", CAROL, {}, {"model": "sonnet", "input": "hi", "stream": True}, "responses-stream", "fast"),
    ("responses", BOB, {}, {"model": "sonnet", "input": "hi", "stream": True}, "responses-stream", "fast"),
    ("responses", ALICE, {"x-tier": "gold"}, {"model": "sonnet", "input": "hi"}, "alice-gold", "gold"),
    ("responses", CAROL, {}, {"model": "claude-haiku-4-5", "input": "hi"}, "claude_code.background", "fast"),
    ("responses", DAVE, {}, {"model": "sonnet", "input": "hi", "max_output_tokens": 6000}, "acme-large", "big"),
    ("responses", CAROL, {}, {"model": "claude-sonnet-x", "input": "hi"}, "high-priority", "fast"),
]  # fmt: skip


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    Path("gateway.yaml").write_text(yaml.safe_dump(TABLE_SPEC, sort_keys=False))
    assert main(["build", "gateway.yaml", "-o", "out"]) == 0
    async with wired_server(load_gateway(Path("out"))) as wired:
        yield wired


async def _gateway(served: Wired, dialect: str, key: str, headers: dict[str, str], body: dict[str, Any]) -> tuple:
    if dialect == "anthropic":
        raw: Any = await served.anthropic(key).messages.with_raw_response.create(**body, extra_headers=headers)
    elif dialect == "openai":
        raw = await served.openai(key).chat.completions.with_raw_response.create(**body, extra_headers=headers)
    else:
        raw = await served.openai(key).responses.with_raw_response.create(**body, extra_headers=headers)
    parsed = raw.parse()
    parsed = await parsed if inspect.isawaitable(parsed) else parsed  # the Anthropic SDK's is a coroutine
    if body.get("stream"):
        _ = [event async for event in parsed]
    return raw.headers.get("x-bifrostc-rule"), raw.headers["x-bifrostc-model"]


def _explain(capsys: pytest.CaptureFixture[str], dialect: str, key: str, headers: dict[str, str], body: dict) -> tuple:
    Path("req.json").write_text(json.dumps(body))
    argv = ["explain", "gateway.yaml", "--request", "req.json", "--key", KEYS[key], "--dialect", dialect]
    argv += [arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    matched = [line.split(" ")[1] for line in out.splitlines() if ": MATCHED: " in line]
    target = re.search(r"^\s+[\d.]+%\s+mock/(\S+)|^-> the rule's targets: mock/(\S+)", out, re.M)
    assert len(matched) <= 1 and target is not None, out
    return (matched[0] if matched else None), target.group(1) or target.group(2)


async def test_explain_and_the_running_gateway_agree_on_every_request(
    served: Wired, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(CASES) >= 30
    assert {c[0] for c in CASES} == {"anthropic", "openai", "responses"} and len({c[1] for c in CASES}) == 4
    disagree = []
    for dialect, key, headers, body, rule, upstream in CASES:
        gateway = await _gateway(served, dialect, key, headers, body)
        explained = _explain(capsys, dialect, key, headers, body)
        if not gateway == explained == (rule, upstream):
            disagree.append((dialect, KEYS[key], headers, body.get("model"), gateway, explained, (rule, upstream)))
    assert disagree == []
