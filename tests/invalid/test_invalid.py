"""One bad spec per rule: `bifrostc validate` output is snapshotted (tests/invalid/__snapshots__).

The environment is emptied so missing-env warnings are the same everywhere; paths are made relative.
"""

from __future__ import annotations

import os
import pathlib
from unittest import mock

import pytest
from syrupy.assertion import SnapshotAssertion

from bifrostc.compiler.cli import main

CASES = sorted((pathlib.Path(__file__).parent / "cases").glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_validate_reports_the_rule(
    case: pathlib.Path,
    snapshot: SnapshotAssertion,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(case.parent)
    with mock.patch.dict(os.environ, {"PATH": os.environ.get("PATH", "")}, clear=True):
        code = main(["validate", case.name])
    captured = capsys.readouterr()
    expected_code = 0 if case.stem.endswith("-warning") else 1
    assert code == expected_code
    assert captured.err.replace(str(case.parent), "<cases>") == snapshot


def test_a_literal_secret_is_never_copied_into_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c.stem == "literal-secret")
    assert main(["validate", str(case)]) == 1
    captured = capsys.readouterr()
    assert "sk-proj" not in captured.err + captured.out
    assert "looks like a literal secret" in captured.err
