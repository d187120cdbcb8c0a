"""`bifrostc validate` on claude_code.sign_in / managed_settings: the documents are checked against Claude Code's
settings schema (schema/claude-code-settings.json): unknown keys and wrong types are errors with line:col, team
overrides must name a team; `build` carries the document and writes out/managed-settings.json per team."""

from __future__ import annotations

import hashlib
import json
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


def test_unknown_settings_and_unknown_teams_are_errors(tmp_path: pathlib.Path) -> None:
    result = validate(
        tmp_path,
        "    cleanupPeriodDay: 3\n    teams:\n      platfrom: {env: {A: b}}\n      platform: {futureSetting: true}\n",
    )
    out = result.stdout + result.stderr
    assert "gateway.yaml:8:5: error: claude_code.managed_settings.cleanupPeriodDay" in out
    assert "Did you mean 'cleanupPeriodDays'?" in out
    assert "gateway.yaml:10:7: error: claude_code.managed_settings.teams.platfrom: unknown team 'platfrom'" in out
    assert "gateway.yaml:11:18: error: claude_code.managed_settings.teams.platform.futureSetting" in out
    assert result.returncode != 0


def test_the_schema_types_of_settings_beyond_the_typed_ones_are_checked(tmp_path: pathlib.Path) -> None:
    result = validate(
        tmp_path,
        "    cleanupPeriodDays: often\n    permissions: {defaultMode: yolo}\n"
        "    modelPricing: {overrides: {echo: {input: 1, output: 2}}}\n    attribution: {commits: x}\n",
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "gateway.yaml:8:24: error: claude_code.managed_settings.cleanupPeriodDays: not a valid Claude Code" in out
    assert "gateway.yaml:9:32: error: claude_code.managed_settings.permissions.defaultMode" in out
    assert "gateway.yaml:10:38: error: claude_code.managed_settings.modelPricing.overrides.echo" in out
    assert "'cacheRead' is a required property" in out
    assert "gateway.yaml:11:19: error: claude_code.managed_settings.attribution.commits" in out


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
    settings = claude_code.managed_settings.settings
    assert settings["permissions"] == {"deny": ("Read(.env)",)}
    assert settings["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"  # the gateway's defaults are in the base
    assert claude_code.managed_settings.teams == {"platform": {"env": {"A": "b"}}}
    emitted = json.loads((tmp_path / "out" / "managed-settings.json").read_text())
    assert set(emitted) == {"default", "teams"} and set(emitted["teams"]) == {"platform"}
    platform = emitted["teams"]["platform"]
    assert platform["settings"]["env"]["A"] == "b" and "A" not in emitted["default"]["settings"]["env"]
    assert (
        platform["checksum"]
        == "sha256:"
        + hashlib.sha256(json.dumps(platform["settings"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    )
    again = subprocess.run([*CLI, "build", "gateway.yaml", "-o", "out2"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0
    assert (tmp_path / "out2" / "managed-settings.json").read_bytes() == (
        tmp_path / "out" / "managed-settings.json"
    ).read_bytes()


def test_diff_shows_what_changes_for_whom(tmp_path: pathlib.Path) -> None:
    (tmp_path / "old.yaml").write_text(HEAD + "    permissions: {deny: ['Read(.env)']}\n    teams: {platform: {}}\n")
    (tmp_path / "new.yaml").write_text(
        HEAD + "    permissions: {deny: ['Read(.env)']}\n    teams: {platform: {permissions: {deny: [WebFetch]}}}\n"
    )
    result = subprocess.run([*CLI, "diff", "old.yaml", "new.yaml"], cwd=tmp_path, capture_output=True, text=True)
    out = result.stdout + result.stderr
    assert (
        "~ claude_code.managed_settings[team:platform][permissions][deny]: [Read(.env)] -> [Read(.env), WebFetch]"
        in out
    )
    assert "[default]" not in out  # the base policy did not change: no one else is affected


def test_an_unset_signing_secret_env_var_is_a_warning(tmp_path: pathlib.Path) -> None:
    (tmp_path / "gateway.yaml").write_text(
        HEAD.replace("sign_in: {}", "sign_in: {secret_env: BFC_SIGNIN_TEST_SECRET}") + "    {}\n"
    )
    result = subprocess.run([*CLI, "validate", "gateway.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: claude_code.sign_in.secret_env: environment variable BFC_SIGNIN_TEST_SECRET is not set" in (
        result.stdout + result.stderr
    )


def test_oidc_groups_must_map_to_teams_of_the_spec(tmp_path: pathlib.Path) -> None:
    oidc = "{issuer: 'https://idp.example', client_id_env: IDP_ID, teams: {eng: platfrom}}"
    (tmp_path / "gateway.yaml").write_text(HEAD.replace("sign_in: {}", f"sign_in: {{oidc: {oidc}}}") + "    {}\n")
    result = subprocess.run([*CLI, "validate", "gateway.yaml"], cwd=tmp_path, capture_output=True, text=True)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "error: claude_code.sign_in.oidc.teams.eng: unknown team 'platfrom'. Did you mean 'platform'?" in out, out
    assert "warning: claude_code.sign_in.oidc.client_id_env: environment variable IDP_ID is not set" in out
