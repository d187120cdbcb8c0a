"""`bifrostc diff` compares the two compiled plans field by field: every change is one line, a route's aliases do
not repeat it, and the exit code is 0 same, 1 different, 2 invalid (like `terraform plan -detailed-exitcode`)."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator

import pytest

from bifrostc.compiler.api import compile_spec
from bifrostc.compiler.cli import main
from bifrostc.compiler.semantic_diff import diff_gateways

SPEC = """version: 1
server: {require_key: true, admin_key_env: ADMIN_KEY}
providers:
  openai:
    type: openai
    api_key_env: UPSTREAM_OPENAI_API_KEY
    network: {max_retries: 2, total_timeout: 600}
models:
  smart:
    targets: [{provider: openai, model: gpt-5, weight: 3}, {provider: openai, model: gpt-5-mini}]
    aliases: [brainy, clever]
    affinity: session
  cheap: {target: openai/gpt-5-mini}
claude_code: {sonnet: smart, haiku: cheap}
pricing:
  openai/gpt-5: {input: 1.25, output: 10}
virtual_keys:
  - {name: alice, key_env: ALICE_KEY, allowed_models: [cheap]}
observability: {log_bodies: true}
cache: {mode: exact, ttl_seconds: 600}
"""
ENV = ("UPSTREAM_OPENAI_API_KEY", "ALICE_KEY", "ADMIN_KEY")

CHANGES = [
    ("affinity: session", "affinity: none", "~ routes[smart].affinity: session -> none"),
    ("max_retries: 2", "max_retries: 0", "~ providers[openai].network.max_retries: 2 -> 0"),
    ("total_timeout: 600", "total_timeout: 60", "~ providers[openai].network.total_timeout: 600 -> 60"),
    ("require_key: true, ", "require_key: false, ", "~ server.require_key: true -> false"),
    (", admin_key_env: ADMIN_KEY", "", "~ server.admin_key_env: ADMIN_KEY -> (unset)"),
    ("log_bodies: true", "log_bodies: false", "~ observability.log_bodies: true -> false"),
    ("ttl_seconds: 600", "ttl_seconds: 60", "~ cache.ttl_seconds: 600 -> 60"),
    ("input: 1.25", "input: 2", "~ pricing[openai/gpt-5].input: 1.25 -> 2"),
    ("weight: 3", "weight: 1", "~ routes[smart].targets[openai/gpt-5].weight: 3 -> 1"),  # once, not per alias
    ("aliases: [brainy, clever]", "aliases: [brainy]", "~ routes[smart].aliases: [brainy, clever] -> [brainy]"),
    ("haiku: cheap", "haiku: smart", "~ tiers[haiku]: cheap -> smart"),
    (
        "allowed_models: [cheap]",
        "allowed_models: [cheap, smart]",
        "~ virtual_keys[alice].allowed_models: [cheap] -> [cheap, smart]",
    ),
    (
        "  cheap: {target: openai/gpt-5-mini}\n",
        "  cheap: {target: openai/gpt-5-mini}\n  tiny: {target: openai/gpt-5-nano}\n",
        "+ routes[tiny]: Route(name=tiny, targets=[Target(provider=openai, model=gpt-5-nano)])",
    ),
]
Capsys = pytest.CaptureFixture[str]
GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "cases"


@pytest.fixture
def spec(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    for name in ENV:
        monkeypatch.setenv(name, "x")
    path = tmp_path / "old.yaml"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize(("before", "after", "line"), CHANGES, ids=[c[2].split(":")[0] for c in CHANGES])
def test_each_change_is_one_line_and_exit_one(
    spec: pathlib.Path, capsys: Capsys, before: str, after: str, line: str
) -> None:
    assert before in SPEC
    spec.with_name("new.yaml").write_text(SPEC.replace(before, after))
    assert main(["diff", "old.yaml", "new.yaml"]) == 1
    assert capsys.readouterr().out.splitlines() == [line]


def test_same_plans_exit_zero_and_invalid_exit_two(spec: pathlib.Path, capsys: Capsys) -> None:
    spec.with_name("same.yaml").write_text(
        "# the same plan, written differently\n" + SPEC.replace("[brainy, clever]", "[clever, brainy]")
    )
    assert main(["diff", "old.yaml", "same.yaml"]) == 0
    assert capsys.readouterr().out == "no differences in the compiled plans\n"
    spec.with_name("bad.yaml").write_text(SPEC.replace("type: openai", "type: opnai"))
    assert main(["diff", "old.yaml", "bad.yaml"]) == 2
    assert main(["diff", "old.yaml", "missing.yaml"]) == 2


def _variants(value: object) -> Iterator[object]:
    """Copies of `value` with exactly one scalar changed somewhere inside it."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            for changed in _variants(getattr(value, field.name)):
                yield dataclasses.replace(value, **{field.name: changed})  # type: ignore[type-var]
    elif isinstance(value, dict):
        for key, item in value.items():
            for changed in _variants(item):
                yield {**value, key: changed}
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            for changed in _variants(item):
                yield (*value[:index], changed, *value[index + 1 :])
    elif isinstance(value, bool):
        yield not value
    elif isinstance(value, (int, float)):
        yield value + 1
    elif isinstance(value, str):
        yield value + "x"


def test_no_field_of_the_plan_can_be_forgotten() -> None:
    """Change each scalar of a compiled plan in turn: diff reports every one (new config fields included)."""
    gateway = compile_spec(GOLDEN / "governance" / "gateway.yaml", environ={}).gateway
    assert gateway is not None
    count = 0
    for variant in _variants(gateway):
        count += 1
        assert diff_gateways(gateway, variant), variant  # type: ignore[arg-type]
    assert count > 100


RULES = """version: 1
providers:
  mock: {type: mock}
models:
  echo: {target: mock/echo}
  big: {target: mock/big}
virtual_keys:
  - name: alice
    key_env: ALICE_KEY
    rules:
      - {name: gold, when: 'headers["x-tier"] == "gold"', route: big}
rules:
  - {name: a, when: stream, route: big}
  - {name: b, when: messages > 3, route: echo}
  - {name: c, when: max_tokens > 8000, route: big}
"""


def test_rules_added_removed_reordered_and_changed_are_listed(spec: pathlib.Path, capsys: Capsys) -> None:
    spec.write_text(RULES)
    new = RULES.replace('"gold"', '"platinum"').replace("  - {name: c, when: max_tokens > 8000, route: big}\n", "")
    new = new.replace(
        "  - {name: a, when: stream, route: big}\n  - {name: b, when: messages > 3, route: echo}\n",
        "  - {name: b, when: messages > 3, route: echo}\n  - {name: a, when: stream, route: echo}\n",
    )
    spec.with_name("new.yaml").write_text(new + "  - {name: d, when: thinking, route: big}\n")
    assert main(["diff", "old.yaml", "new.yaml"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "~ rules order: [key alice: gold, global: a, global: b] -> [key alice: gold, global: b, global: a]",
        "~ rules[global: a].route: big -> echo",
        "- rules[global: c]: Rule(name=c, when=max_tokens > 8000, route=big)",
        "+ rules[global: d]: Rule(name=d, when=thinking, route=big)",
        '~ rules[key alice: gold].when: headers["x-tier"] == "gold" -> headers["x-tier"] == "platinum"',
    ]
    spec.with_name("same.yaml").write_text("# rebuilt: new condition functions, same rules\n" + RULES)
    assert main(["diff", "old.yaml", "same.yaml"]) == 0


def test_no_field_of_a_rule_can_be_forgotten() -> None:
    gateway = compile_spec(GOLDEN / "rules" / "gateway.yaml", environ={}).gateway
    assert gateway is not None and gateway.rules
    variants = [v for v in _variants(gateway) if v.rules != gateway.rules]  # type: ignore[attr-defined]
    assert len(variants) > 20
    for variant in variants:
        assert diff_gateways(gateway, variant), variant  # type: ignore[arg-type]
