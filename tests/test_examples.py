"""Every example spec validates and builds; its generated files are snapshotted (tests/__snapshots__)."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from bifrostc.compiler import api
from bifrostc.compiler.emit import TEMPLATES

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parent.parent / "examples").glob("*/gateway.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_builds_without_errors(example: pathlib.Path, tmp_path: pathlib.Path) -> None:
    result = api.build(example, tmp_path / "out", environ={})
    assert result.validated.ok, [d.message for d in result.validated.diagnostics if d.is_error]
    assert (tmp_path / "out" / "routing.py").is_file()


@pytest.mark.parametrize("name", ["routing.py", "env.sh", "mcp.json"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_output_matches_snapshot(example: pathlib.Path, name: str, snapshot: SnapshotAssertion) -> None:
    result = api.compile_spec(example, environ={})
    assert result.files[name] == snapshot


def test_quickstart_example_is_what_init_quickstart_writes() -> None:
    example = next(e for e in EXAMPLES if e.parent.name == "quickstart")
    starter = (TEMPLATES / "quickstart.gateway.yaml.jinja").read_text()
    assert yaml.safe_load(example.read_text()) == yaml.safe_load(starter)


def test_quickstart_needs_no_keys_and_serves_the_claude_code_tiers() -> None:
    example = next(e for e in EXAMPLES if e.parent.name == "quickstart")
    result = api.compile_spec(example, environ={})
    assert result.validated.diagnostics == []  # not even a missing-env warning
    assert result.gateway is not None
    assert {"sonnet", "opus", "haiku"} <= set(result.gateway.routes)
    assert {p.type for p in result.gateway.providers.values()} == {"mock"}
