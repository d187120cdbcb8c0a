"""The measured cases: client dialect -> upstream dialect, streaming or not, and their direct baselines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

PROMPT = [{"role": "user", "content": "Say hello in one short sentence."}]
PUBLIC_MODEL = "bench-openai"
UPSTREAM_MODEL = "gpt-bench"


@dataclass(frozen=True)
class Call:
    """One HTTP request the load generator repeats."""

    path: str
    body: bytes
    expect: str  # substring of every good response body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    gateway: Call  # what the client sends to bifrostc
    direct: Call  # the equivalent call straight to the fake upstream (the baseline for added latency)


def _upstream_openai(stream: bool) -> Call:
    body: dict[str, object] = {"model": UPSTREAM_MODEL, "messages": PROMPT, "max_tokens": 64, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return Call("/v1/chat/completions", orjson.dumps(body), "[DONE]" if stream else "finish_reason")


def _openai_client(stream: bool) -> Call:
    body = {"model": PUBLIC_MODEL, "messages": PROMPT, "max_tokens": 64, "stream": stream}
    return Call(
        "/v1/chat/completions",
        orjson.dumps(body),
        "[DONE]" if stream else "finish_reason",
        {"authorization": "Bearer bench-client"},
    )


def _anthropic_client(stream: bool) -> Call:
    body = {"model": PUBLIC_MODEL, "messages": PROMPT, "max_tokens": 64, "stream": stream}
    headers = {"x-api-key": "bench-client", "anthropic-version": "2023-06-01"}
    return Call("/anthropic/v1/messages", orjson.dumps(body), "message_stop" if stream else "end_turn", headers)


def _responses_client(stream: bool) -> Call:
    body = {"model": PUBLIC_MODEL, "input": PROMPT[0]["content"], "max_output_tokens": 64, "stream": stream}
    headers = {"authorization": "Bearer bench-client"}
    return Call("/v1/responses", orjson.dumps(body), "response.completed" if stream else '"completed"', headers)


def _claude_code_history(turns: int = 100) -> list[dict[str, object]]:
    """A Claude Code-sized conversation: ``turns`` tool loops, each with signed thinking, a tool_use and a result
    (~120 KB of JSON at 100 turns), so passthrough pays for what a long session really sends."""
    messages: list[dict[str, object]] = [{"role": "user", "content": "Fix the failing test."}]
    for n in range(turns):
        thinking = {"type": "thinking", "thinking": f"Step {n}: read the next file.", "signature": "EqQBCkYIBxgC" * 20}
        call = {"type": "tool_use", "id": f"toolu_{n:04d}", "name": "Read", "input": {"file_path": f"src/m{n}.py"}}
        result = {"type": "tool_result", "tool_use_id": f"toolu_{n:04d}", "content": "x = 1\n" * 150}
        messages += [{"role": "assistant", "content": [thinking, call]}, {"role": "user", "content": [result]}]
    return messages


def _anthropic_long(stream: bool, model: str, headers: dict[str, str]) -> Call:
    body = {"model": model, "messages": _claude_code_history(), "max_tokens": 64, "stream": stream}
    body["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    return Call(
        "/anthropic/v1/messages" if headers else "/v1/messages",
        orjson.dumps(body),
        "message_stop" if stream else "end_turn",
        headers,
    )


_CLAUDE_HEADERS = {"x-api-key": "bench-client", "anthropic-version": "2023-06-01"}
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "claude_code"


def claude_code_call(fixture: str, model: str = "bench-claude", path: str = "/anthropic/v1/messages") -> Call:
    """A request Claude Code really sent (tests/fixtures/claude_code/<fixture>.json: its body and headers),
    with the model renamed to the gateway's and the bench's virtual key."""
    captured = orjson.loads((FIXTURES / f"{fixture}.json").read_bytes())
    # `model` first, as Claude Code sends it (the fixtures' keys are sorted; its own order puts the model first)
    body = {"model": model, **{k: v for k, v in captured["body"].items() if k != "model"}}
    headers = {k: v for k, v in captured["headers"].items() if isinstance(v, str)}
    headers = {**headers, **(_CLAUDE_HEADERS if path.startswith("/anthropic") else {})}
    return Call(path, orjson.dumps(body), "message_stop" if body.get("stream") else "end_turn", headers)


def codex_call(model: str = "bench-codex", path: str = "/v1/responses", *, loops: int = 0) -> Call:
    """The first turn the real Codex CLI sent (tests/fixtures/codex/first-turn-1.json, from its capture.py: 39 KB,
    its instructions as a developer message, 9 tools, `store: false`), the model renamed (still first); with
    `loops`, a later turn of the same session: that many tool loops after it (a reasoning summary, a shell call,
    a 1.8 KB output), the last output the new turn (60 loops: ~170 KB)."""
    raw = (FIXTURES.parent / "codex" / "first-turn-1.json").read_bytes()
    body = {"model": model, **{k: v for k, v in orjson.loads(raw).items() if k != "model"}}
    for n in range(loops):
        arguments = orjson.dumps({"command": ["bash", "-lc", f"sed -n 1,80p src/m{n}.py"]}).decode()
        body["input"] += [
            {"type": "reasoning", "id": f"rs_{n}", "summary": [{"type": "summary_text", "text": "Reading on."}]},
            {"type": "function_call", "call_id": f"call_{n}", "name": "shell", "arguments": arguments},
            {"type": "function_call_output", "call_id": f"call_{n}", "output": "x = 1\n" * 300},
        ]
    return Call(path, orjson.dumps(body), "response.completed", {"authorization": "Bearer bench-client"})


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("openai->openai", _openai_client(False), _upstream_openai(False)),
    Scenario("openai->openai stream", _openai_client(True), _upstream_openai(True)),
    Scenario("anthropic->openai", _anthropic_client(False), _upstream_openai(False)),
    Scenario("anthropic->openai stream", _anthropic_client(True), _upstream_openai(True)),
    Scenario("responses->openai", _responses_client(False), _upstream_openai(False)),
    Scenario("responses->openai stream", _responses_client(True), _upstream_openai(True)),
    # Same dialect: passthrough with only `model` rewritten, on a long Claude Code history (~120 KB).
    Scenario(
        "anthropic->anthropic long history",
        _anthropic_long(False, "bench-claude", _CLAUDE_HEADERS),
        _anthropic_long(False, "claude-bench", {}),
    ),
    Scenario(
        "anthropic->anthropic long history stream",
        _anthropic_long(True, "bench-claude", _CLAUDE_HEADERS),
        _anthropic_long(True, "claude-bench", {}),
    ),
    # What Claude Code really sends (tests/fixtures/claude_code): a first turn (87 KB: system prompt, 40 tools) and
    # a later one with the beta tools (127 KB), streamed, relayed to an Anthropic upstream.
    Scenario(
        "claude code first turn stream",
        claude_code_call("first-turn-1"),
        claude_code_call("first-turn-1", model="claude-bench", path="/v1/messages"),
    ),
    Scenario(
        "claude code 127 KB turn stream",
        claude_code_call("no-betas-1"),
        claude_code_call("no-betas-1", model="claude-bench", path="/v1/messages"),
    ),
    # What Codex really sends on a first turn, relayed to a Responses-only model.
    Scenario("codex first turn stream", codex_call(), codex_call(model="gpt-5-codex")),
)
