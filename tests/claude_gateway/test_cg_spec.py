"""`bifrostc validate` on claude_code.sign_in / managed_settings: wrong types of known settings are errors with
line:col, unknown settings keys are warnings, team overrides must name a team; `build` carries the document."""

from __future__ import annotations

import pathlib
import subprocess
import sys

CLI = [sys.executable, "-m", "bifrostc.compiler.cli"]
HEAD = """version: 1
providers: {mock: {type: mock}}
models: {echo: {target: mock/echo}}
teams: {platform: {}}
claude_code:
  sign_in: {}
  managed_settings:
"""


def validate(tmp_path: pathlib.Path, managed: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "gateway.yaml").write_text(HEAD + managed)
    return subprocess.run([*CLI, "validate", "gateway.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_wrong_types_of_known_settings_are_errors_with_positions(tmp_path: pathlib.Path) -> None:
    result = validate(
        tmp_path,
        "    permissions: {allow: Bash(ls), deny: [1]}\n    env: {FOO: 1}\n    model: [opus]\n",
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "gateway.yaml:8:26: error: claude_code.managed_settings.permissions.allow" in out
    assert "gateway.yaml:8:43: error: claude_code.managed_settings.permissions.deny[0]" in out
    assert "gateway.yaml:9:16: error: claude_code.managed_settings.env.FOO: must be a string" in out
    assert "gateway.yaml:10:12: error: claude_code.managed_settings.model" in out


def test_unknown_settings_are_warnings_and_unknown_teams_errors(tmp_path: pathlib.Path) -> None:
    result = validate(
        tmp_path,
        "    cleanupPeriodDay: 3\n    teams:\n      platfrom: {env: {A: b}}\n      platform: {futureSetting: true}\n",
    )
    out = result.stdout + result.stderr
    assert "gateway.yaml:8:5: warning: claude_code.managed_settings.cleanupPeriodDay" in out
    assert "Did you mean 'cleanupPeriodDays'?" in out
    assert "gateway.yaml:10:7: error: claude_code.managed_settings.teams.platfrom: unknown team 'platfrom'" in out
    assert "gateway.yaml:11:18: warning: claude_code.managed_settings.teams.platform.futureSetting" in out
    assert result.returncode != 0


def test_build_writes_the_document_into_routing_py(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        HEAD + "    permissions: {deny: ['Read(.env)']}\n    teams: {platform: {env: {A: b}}}\n"
    )
    result = subprocess.run([*CLI, "build", "gateway.yaml", "-o", "out"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    namespace: dict[str, object] = {}
    exec((tmp_path / "out" / "routing.py").read_text(), namespace)
    claude_code = namespace["GATEWAY"].claude_code  # type: ignore[attr-defined]
    assert claude_code.sign_in.token_ttl_seconds == 3600
    assert claude_code.managed_settings.settings == {"permissions": {"deny": ("Read(.env)",)}}
    assert claude_code.managed_settings.teams == {"platform": {"env": {"A": "b"}}}


def test_an_unset_signing_secret_env_var_is_a_warning(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        HEAD.replace("sign_in: {}", "sign_in: {secret_env: BFC_SIGNIN_TEST_SECRET}") + "    {}\n"
    )
    result = subprocess.run([*CLI, "validate", "gateway.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: claude_code.sign_in.secret_env: environment variable BFC_SIGNIN_TEST_SECRET is not set" in (
        result.stdout + result.stderr
    )
