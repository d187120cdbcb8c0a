"""`bifrostc validate` for CI, through the real command: several files per run, --format text|json|sarif|github,
--strict (warnings fail), --no-env (no unset-variable warnings). The machine formats are snapshotted."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

GOOD = """version: 1
providers:
  mock: {type: mock}
models:
  echo: {target: mock/echo}
"""
WARNS = """version: 1
providers:
  openai: {type: openai, api_key_env: CI_UNSET_OPENAI_KEY}
models:
  smart: {target: openai/gpt-5}
"""
BAD = """version: 1
providers:
  openai: {type: openai, api_key_env: CI_UNSET_OPENAI_KEY, timeout: -1}
models:
  smart: {target: openai/gpt-5, fallbacks: [nope]}
"""

# The parts of the SARIF 2.1.0 schema (docs.oasis-open.org/sarif/sarif/v2.1.0, sarif-schema-2.1.0.json) that
# the output uses, with the schema's names and requirements; additionalProperties false catches a misspelt key.
_MESSAGE = {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}]}
SARIF_SUBSET: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "additionalProperties": False,
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "additionalProperties": False,
                                            "properties": {
                                                "id": {"type": "string"},
                                                "name": {"type": "string"},
                                                "shortDescription": {"type": "object", "required": ["text"]},
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "artifacts": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"location": {"$ref": "#/$defs/artifactLocation"}}},
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "additionalProperties": False,
                            "properties": {
                                "ruleId": {"type": "string"},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": _MESSAGE,
                                "locations": {"type": "array", "items": {"$ref": "#/$defs/location"}},
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "artifactLocation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"uri": {"type": "string", "format": "uri-reference"}},
        },
        "location": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "physicalLocation": {
                    "type": "object",
                    "anyOf": [{"required": ["artifactLocation"]}],
                    "additionalProperties": False,
                    "properties": {
                        "artifactLocation": {"$ref": "#/$defs/artifactLocation"},
                        "region": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                name: {"type": "integer", "minimum": 1}
                                for name in ("startLine", "startColumn", "endLine", "endColumn")
                            },
                        },
                    },
                }
            },
        },
    },
}


def validate(cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_UNSET_")}
    return subprocess.run(
        [sys.executable, "-m", "bifrostc.compiler.cli", "validate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def specs(tmp_path: pathlib.Path) -> pathlib.Path:
    for name, text in {"good.yaml": GOOD, "warns.yaml": WARNS, "bad.yaml": BAD}.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_several_files_in_one_run_fail_when_any_fails(specs: pathlib.Path) -> None:
    run = validate(specs, "good.yaml", "warns.yaml")
    assert (run.returncode, run.stdout) == (0, "good.yaml: ok\nwarns.yaml: ok\n")
    run = validate(specs, "good.yaml", "bad.yaml", "warns.yaml")
    assert run.returncode == 1
    assert run.stdout == "good.yaml: ok\nwarns.yaml: ok\n"
    assert "bad.yaml:3:60: error: providers.openai.timeout: unknown key 'timeout'" in run.stderr


def test_a_missing_file_is_a_usage_error_before_any_report(specs: pathlib.Path) -> None:
    run = validate(specs, "good.yaml", "absent.yaml")
    assert (run.returncode, run.stdout, run.stderr) == (2, "", "bifrostc: error: no such file: absent.yaml\n")


def test_strict_fails_on_warnings_and_no_env_drops_the_environment_checks(specs: pathlib.Path) -> None:
    strict = validate(specs, "warns.yaml", "--strict")
    assert strict.returncode == 1
    assert "warns.yaml: 1 warning(s) fail under --strict" in strict.stderr
    quiet = validate(specs, "warns.yaml", "--strict", "--no-env")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "warns.yaml: ok\n", "")


def test_json_report(specs: pathlib.Path, snapshot: Any) -> None:
    run = validate(specs, "good.yaml", "warns.yaml", "bad.yaml", "--format", "json")
    assert run.returncode == 1 and run.stderr == ""
    document = json.loads(run.stdout)
    assert [f["ok"] for f in document["files"]] == [True, True, False]
    assert run.stdout == snapshot


def test_sarif_report_is_valid_sarif_2_1_0(specs: pathlib.Path, snapshot: Any) -> None:
    run = validate(specs, "good.yaml", "warns.yaml", "bad.yaml", "--format", "sarif")
    assert run.returncode == 1 and run.stderr == ""
    document = json.loads(run.stdout)
    jsonschema.validate(document, SARIF_SUBSET, format_checker=jsonschema.FormatChecker())
    levels = [
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["level"])
        for r in document["runs"][0]["results"]
    ]
    assert levels == [("warns.yaml", "warning"), ("bad.yaml", "warning"), ("bad.yaml", "error"), ("bad.yaml", "error")]
    rule_ids = {rule["id"] for rule in document["runs"][0]["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in document["runs"][0]["results"]} == rule_ids
    assert run.stdout == snapshot


def test_sarif_under_strict_reports_warnings_as_errors(specs: pathlib.Path) -> None:
    run = validate(specs, "warns.yaml", "--format", "sarif", "--strict")
    assert run.returncode == 1
    assert [r["level"] for r in json.loads(run.stdout)["runs"][0]["results"]] == ["error"]


def test_github_annotations(specs: pathlib.Path, snapshot: Any) -> None:
    run = validate(specs, "good.yaml", "warns.yaml", "bad.yaml", "--format", "github")
    assert run.returncode == 1 and run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[2].startswith(
        "::error file=bad.yaml,line=3,col=60,endColumn=67,title=bifrostc providers.openai.timeout::"
    )
    assert all("\n" not in line and line.startswith(("::error ", "::warning ")) for line in lines)
    assert run.stdout == snapshot


def test_github_annotations_without_env_checks_are_only_the_errors(specs: pathlib.Path) -> None:
    run = validate(specs, "warns.yaml", "bad.yaml", "--format", "github", "--no-env")
    assert [line.split(" ", 1)[0] for line in run.stdout.splitlines()] == ["::error", "::error"]
