"""`bifrostc explain` answers for every model string the gateway accepts, with the key's whole budget chain, and its
exit code says whether the gateway would serve the request (0), refuse it (1) or cannot be asked (2)."""

from __future__ import annotations

import pathlib

import pytest

from bifrostc.compiler.cli import main

SPEC = """version: 1
server: {default_provider: openai}
providers:
  openai: {type: openai, api_key_env: UPSTREAM_OPENAI_API_KEY}
  anthropic: {type: anthropic, api_key_env: UPSTREAM_ANTHROPIC_API_KEY}
models:
  big: {target: anthropic/claude-opus-4-1}
  cheap: {target: openai/gpt-5-mini}
claude_code: {opus: big, haiku: cheap}
customers:
  acme: {budget: {max_usd: 1000, period: 1M}, rate_limit: {requests_per_minute: 600}}
teams:
  eng: {customer: acme, budget: {max_usd: 100, period: 1w}}
virtual_keys:
  - {name: alice, key_env: ALICE_KEY, team: eng, allowed_models: [cheap], budget: {max_usd: 5, period: 1d}}
"""
Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def spec(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    for name in ("UPSTREAM_OPENAI_API_KEY", "UPSTREAM_ANTHROPIC_API_KEY", "ALICE_KEY"):
        monkeypatch.setenv(name, "x")
    path = tmp_path / "gateway.yaml"
    path.write_text(SPEC)
    return path


def _first_line(capsys: Capsys) -> str:
    return capsys.readouterr().out.splitlines()[0]


def test_a_claude_model_id_is_explained_on_its_tier_route(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "claude-opus-4-1-20250805"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("claude-opus-4-1-20250805 -> route big (Claude Code opus; a Claude model id")
    assert "100.0%  anthropic/claude-opus-4-1  keys: UPSTREAM_ANTHROPIC_API_KEY" in out


def test_a_provider_model_string_goes_straight_to_that_provider(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "anthropic/claude-haiku-4-5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("anthropic/claude-haiku-4-5 -> route anthropic/claude-haiku-4-5 (provider/model")
    assert "100.0%  anthropic/claude-haiku-4-5  keys: UPSTREAM_ANTHROPIC_API_KEY" in out


def test_a_bare_unknown_name_goes_to_the_default_provider(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "gpt-4.1-nano"]) == 0
    out = capsys.readouterr().out
    assert "server.default_provider openai serves it" in out.splitlines()[0]
    assert "100.0%  openai/gpt-4.1-nano  keys: UPSTREAM_OPENAI_API_KEY" in out


def test_a_name_nothing_serves_is_a_404_and_exit_one(spec: pathlib.Path, capsys: Capsys) -> None:
    spec.write_text(SPEC.replace("server: {default_provider: openai}\n", ""))
    assert main(["explain", "gateway.yaml", "gpt-4.1-nano"]) == 1
    assert _first_line(capsys) == (
        "gpt-4.1-nano: refused with 404: model 'gpt-4.1-nano' is not served by this gateway;"
        " available: big, cheap, haiku, opus"
    )


def test_a_denied_key_exits_one(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "claude-opus-4-1-20250805", "--key", "alice"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "key alice: DENIED with 400: key 'alice' may not use model 'claude-opus-4-1-20250805'"
        " (allowed_models: cheap; allowed_providers: all)"
    )


def test_an_allowed_key_shows_its_budget_chain_key_team_customer(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "claude-haiku-4-5", "--key", "alice"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "key alice: allowed (allowed_models: cheap; allowed_providers: all)",
        "  budgets (every one must have room): key alice $5 per 1d; team eng $100 per 1w;"
        " customer acme $1000 per 1M, 600 req/min",
    ]


def test_a_required_key_refuses_a_keyless_request(spec: pathlib.Path, capsys: Capsys) -> None:
    spec.write_text(SPEC.replace("{default_provider: openai}", "{default_provider: openai, require_key: true}"))
    assert main(["explain", "gateway.yaml", "cheap"]) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("without a key: refused with 401")
    assert main(["explain", "gateway.yaml", "cheap", "--key", "alice"]) == 0


def test_an_unknown_key_or_an_invalid_spec_cannot_be_explained_exit_two(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "cheap", "--key", "alcie"]) == 2
    assert "no virtual key named 'alcie'. Did you mean 'alice'?" in capsys.readouterr().err
    spec.write_text(SPEC.replace("type: openai", "type: opnai"))
    assert main(["explain", "gateway.yaml", "cheap"]) == 2
