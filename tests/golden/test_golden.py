"""Golden out/ trees: building each case must reproduce tests/golden/cases/<name>/expected byte for byte.

When a change to the compiler is intended, run `make regen` and review the diff of expected/.
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

from bifrostc.compiler import api
from bifrostc.compiler.emit import OUTPUT_FILES
from bifrostc.runtime.config import Gateway

CASES = sorted(p for p in (pathlib.Path(__file__).parent / "cases").iterdir() if p.is_dir())
REPO = pathlib.Path(__file__).resolve().parents[2]


def tree(directory: pathlib.Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_build_reproduces_the_golden_tree(case: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    result = api.build(case / "gateway.yaml", out, environ={})
    assert result.validated.ok, result.validated.diagnostics
    assert tree(out) == tree(case / "expected"), "golden drift: run `make regen` and review the diff"
    assert sorted(tree(out)) == sorted(OUTPUT_FILES)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_building_twice_gives_identical_bytes(case: pathlib.Path, tmp_path: pathlib.Path) -> None:
    api.build(case / "gateway.yaml", tmp_path / "a", environ={})
    api.build(case / "gateway.yaml", tmp_path / "b", environ={})
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_check_mode_reports_no_drift_against_the_golden_tree(case: pathlib.Path) -> None:
    result = api.build(case / "gateway.yaml", case / "expected", check=True, environ={})
    assert result.ok and result.drift == ""


def test_expected_routing_modules_pass_ruff_check_and_format_check() -> None:
    files = [str(case / "expected" / "routing.py") for case in CASES]
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *files], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", *files]
    formatted = subprocess.run(fmt, capture_output=True, text=True, cwd=REPO)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_importing_a_generated_routing_module_yields_a_gateway(case: pathlib.Path) -> None:
    path = case / "expected" / "routing.py"
    spec = importlib.util.spec_from_file_location(f"golden_routing_{case.name.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.GATEWAY, Gateway)
    assert module.FORMAT_VERSION == 1
    assert len(module.SOURCE_SHA256) == 64
    for route in module.GATEWAY.routes.values():
        assert all(target.provider in module.GATEWAY.providers for target in route.targets)
