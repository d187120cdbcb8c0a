"""The command line: exit codes, messages and the files it writes."""

from __future__ import annotations

import pathlib
import sys
import types

import pytest

from bifrostc.compiler.cli import main

SPEC = """version: 1
providers:
  openai: {type: openai, api_key_env: UPSTREAM_OPENAI_API_KEY}
models:
  smart:
    targets: [{provider: openai, model: gpt-5, weight: 3}, {provider: openai, model: gpt-5-mini}]
    fallbacks: [cheap]
  cheap: {target: openai/gpt-5-mini}
claude_code: {sonnet: smart, haiku: cheap}
virtual_keys:
  - {name: alice, key_env: ALICE_KEY, allowed_models: [cheap]}
"""
Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def spec(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPSTREAM_OPENAI_API_KEY", "x")
    monkeypatch.setenv("ALICE_KEY", "x")
    path = tmp_path / "gateway.yaml"
    path.write_text(SPEC)
    return path


def test_validate_ok_exits_zero(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["validate", "gateway.yaml"]) == 0
    assert capsys.readouterr().out == "gateway.yaml: ok\n"


def test_validate_reports_a_typo_with_did_you_mean_and_exits_one(spec: pathlib.Path, capsys: Capsys) -> None:
    spec.write_text(SPEC.replace("fallbacks: [cheap]", "fallbacks: [chep]"))
    assert main(["validate", "gateway.yaml"]) == 1
    err = capsys.readouterr().err
    assert "gateway.yaml:7:17: error: models.smart.fallbacks[0]: unknown model 'chep'. Did you mean 'cheap'?" in err
    assert err.endswith("1 error in gateway.yaml\n")


def test_usage_errors_exit_two(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["validate", "missing.yaml"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["build", "gateway.yaml"]) == 2  # -o is required
    assert "no such file: missing.yaml" in capsys.readouterr().err


def test_build_writes_out_and_check_passes_until_out_drifts(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["build", "gateway.yaml", "-o", "out"]) == 0
    assert sorted(p.name for p in pathlib.Path("out").iterdir()) == [
        "MANIFEST.json",
        "env.bedrock.sh",
        "env.sh",
        "env.vertex.sh",
        "mcp.json",
        "routing.py",
    ]
    assert main(["build", "gateway.yaml", "-o", "out", "--check"]) == 0
    spec.write_text(SPEC.replace("weight: 3", "weight: 4"))
    capsys.readouterr()
    assert main(["build", "gateway.yaml", "-o", "out", "--check"]) == 1
    captured = capsys.readouterr()
    assert "--- out/routing.py\n+++ routing.py\n" in captured.out
    assert 'Target(provider="openai", model="gpt-5", weight=4.0)' in captured.out
    assert "out is out of date" in captured.err
    assert main(["validate", "gateway.yaml", "--out", "out"]) == 1


def test_a_grant_on_a_tier_or_a_claude_model_id_validates_like_the_gateway_admits_it(
    spec: pathlib.Path, capsys: Capsys
) -> None:
    # The gateway's grant rule matches the tiers a route is set to, so `sonnet` (and a Claude id holding it)
    # is a grant validate must accept; a tier that is not set stays an unknown model.
    spec.write_text(SPEC.replace("allowed_models: [cheap]", "allowed_models: [sonnet, claude-haiku-4-5]"))
    assert main(["validate", "gateway.yaml"]) == 0
    assert main(["explain", "gateway.yaml", "claude-sonnet-4-5", "--key", "alice"]) == 0
    capsys.readouterr()
    spec.write_text(SPEC.replace("allowed_models: [cheap]", "allowed_models: [claude-opus-4-1]"))
    assert main(["validate", "gateway.yaml"]) == 1
    assert "unknown model 'claude-opus-4-1'" in capsys.readouterr().err


def test_build_of_an_invalid_spec_writes_nothing(spec: pathlib.Path, capsys: Capsys) -> None:
    spec.write_text(SPEC.replace("type: openai", "type: opnai"))
    assert main(["build", "gateway.yaml", "-o", "out"]) == 1
    assert not pathlib.Path("out").exists()
    assert "nothing written" in capsys.readouterr().err


REASONING_REFUSES = "frequency_penalty, logit_bias, logprobs, presence_penalty, temperature, top_logprobs, top_p"


def test_explain_shows_weights_keys_fallbacks_and_a_denied_key_exits_one(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "sonnet", "--key", "alice"]) == 1
    assert capsys.readouterr().out == (
        "sonnet -> route smart (Claude Code sonnet)\n"
        "  tool calling: yes\n"
        "  targets (by weight over conversations; each conversation stays on one):\n"
        "     75.0%  openai/gpt-5  keys: UPSTREAM_OPENAI_API_KEY\n"
        f"            not sent to gpt-5 (its model class refuses them): {REASONING_REFUSES}\n"
        "     25.0%  openai/gpt-5-mini  keys: UPSTREAM_OPENAI_API_KEY\n"
        f"            not sent to gpt-5-mini (its model class refuses them): {REASONING_REFUSES}\n"
        "  fallbacks: cheap\n"
        "key alice: DENIED with 400: key 'alice' may not use model 'sonnet'"
        " (allowed_models: cheap; allowed_providers: all)\n"
    )


def test_explain_suggests_a_close_model_name(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["explain", "gateway.yaml", "smrt"]) == 1
    out = capsys.readouterr().out
    assert out == "smrt: refused with 404: model 'smrt' is not served by this gateway. Did you mean 'smart'?\n"


def test_diff_lists_changed_fields_and_exits_one(spec: pathlib.Path, capsys: Capsys) -> None:
    new = spec.with_name("new.yaml")
    new.write_text(SPEC.replace("weight: 3", "weight: 1").replace("allowed_models: [cheap]", "allowed_models: []"))
    assert main(["diff", "gateway.yaml", "gateway.yaml"]) == 0
    assert capsys.readouterr().out == "no differences in the compiled plans\n"
    assert main(["diff", "gateway.yaml", "new.yaml"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "~ routes[smart].targets[openai/gpt-5].weight: 3 -> 1",
        "~ virtual_keys[alice].allowed_models: [cheap] -> []",
    ]


def test_init_writes_a_spec_that_builds_and_refuses_to_overwrite(spec: pathlib.Path, capsys: Capsys) -> None:
    assert main(["init", "--quickstart", "-o", "quick.yaml"]) == 0
    assert main(["validate", "quick.yaml"]) == 0
    assert main(["init", "-o", "quick.yaml"]) == 2
    assert main(["init", "-o", "starter.yaml"]) == 0
    assert main(["build", "starter.yaml", "-o", "out2"]) == 0


def test_schema_check_fails_on_a_stale_file(spec: pathlib.Path) -> None:
    assert main(["schema", "-o", "schema.json"]) == 0
    assert main(["schema", "-o", "schema.json", "--check"]) == 0
    pathlib.Path("schema.json").write_text("{}\n")
    assert main(["schema", "-o", "schema.json", "--check"]) == 1


def test_serve_hands_over_to_the_runtime(spec: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[pathlib.Path, dict[str, object]]] = []
    fake = types.ModuleType("bifrostc.runtime.server")
    fake.serve = lambda out_dir, **kwargs: calls.append((out_dir, kwargs)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bifrostc.runtime.server", fake)
    assert main(["serve", "out"]) == 2  # not built yet
    assert main(["build", "gateway.yaml", "-o", "out"]) == 0
    assert main(["serve", "out", "--port", "9999", "--reload"]) == 0
    assert main(["serve", "out", "--workers", "4"]) == 0
    defaults = {"access_log": None, "allow_modified": False, "workers": None, "log_format": "text"}
    assert calls == [
        (pathlib.Path("out"), {**defaults, "host": None, "port": 9999, "reload": True}),
        (pathlib.Path("out"), {**defaults, "host": None, "port": None, "reload": True, "workers": "4"}),
    ]
