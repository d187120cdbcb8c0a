"""``claude_code.managed_settings``: the Claude Code managed-settings document the gateway serves per team.

The document is Claude Code's own ``managed-settings.json``, so unknown keys are kept (Claude Code grows new
ones every release) and only reported as warnings; the keys we know the type of (``permissions.allow/ask/deny``,
``env``, ``model``) are validated here so a wrong type is an error with line:col. ``teams`` holds per-team
overrides merged over the base (see ``bifrostc.runtime.claude_gateway.managed``).
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
from pydantic import BaseModel, ConfigDict, Field

from bifrostc.compiler.diagnostics import Diagnostic, Path, did_you_mean, error
from bifrostc.runtime import config as c
from bifrostc.runtime.governance.pricing import find_price

if TYPE_CHECKING:
    from bifrostc.compiler.spec import SignInSpec

# What `validate` knows about Claude Code's settings keys (names and JSON types; see the file's $comment).
SETTINGS_SCHEMA: dict[str, Any] = json.loads(
    (pathlib.Path(__file__).resolve().parent.parent / "schema" / "claude-code-settings.json").read_text("utf-8")
)
# Added to every policy unless the spec sets them: model discovery at /v1/models, the hint headers that tell which
# settings a session runs under, and Claude Code's own OpenTelemetry export. Signed in, Claude Code sends its OTLP
# exports to {gateway}/v1/{signal} whatever OTEL_EXPORTER_OTLP_ENDPOINT says (protocol: Telemetry), so no endpoint
# is named: naming one on another host would send the exports there instead.
DEFAULT_ENV = {
    "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1",
    "CLAUDE_CODE_GATEWAY_HINT_HEADERS": "1",
    "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
}


class PermissionsSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    allow: list[str] | None = Field(default=None, description="Replaced by a team's list.")
    ask: list[str] | None = None
    deny: list[str] | None = Field(default=None, description="Unioned with a team's list.")


class SettingsDocument(BaseModel):
    """A Claude Code managed-settings document (https://code.claude.com/docs/en/settings)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    permissions: PermissionsSpec | None = None
    env: dict[str, str] | None = Field(default=None, description="Shallow-merged with a team's env.")
    model: str | None = None


class ManagedSettingsSpec(SettingsDocument):
    teams: dict[str, SettingsDocument] = Field(
        default_factory=dict, description="Team name -> overrides merged over the base document."
    )


def check(managed: ManagedSettingsSpec | None, teams: set[str]) -> list[Diagnostic]:
    """Each document against Claude Code's settings schema (unknown keys and wrong types are errors), and
    overrides for teams the spec does not define."""
    if managed is None:
        return []
    base = ("claude_code", "managed_settings")
    found = list(_schema_errors(base, managed.model_dump(exclude_unset=True, exclude={"teams"})))
    for team, override in managed.teams.items():
        path = (*base, "teams", team)
        if team not in teams:
            found.append(error(path, f"unknown team '{team}'.{did_you_mean(team, teams)}", on_key=True))
        found += _schema_errors(path, override.model_dump(exclude_unset=True))
    return found


def check_oidc(sign_in: SignInSpec | None, teams: set[str]) -> list[Diagnostic]:
    """Each IdP group maps to a team of the spec; without a mapping some team must exist to map a group to."""
    if sign_in is None or sign_in.oidc is None:
        return []
    path = ("claude_code", "sign_in", "oidc", "teams")
    found = [
        error((*path, group), f"unknown team '{team}'.{did_you_mean(team, teams)}")
        for group, team in sign_in.oidc.teams.items()
        if team not in teams
    ]
    if not teams:
        found.append(error(path[:-1], "OIDC sign-in maps IdP groups onto teams, and the spec defines none"))
    return found


def _schema_errors(path: Path, document: Mapping[str, Any]) -> Iterator[Diagnostic]:
    validator = jsonschema.Draft7Validator(SETTINGS_SCHEMA)
    for problem in sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]):
        where: Path = (*path, *problem.absolute_path)
        if problem.validator == "additionalProperties" and isinstance(problem.instance, dict):
            known = problem.schema.get("properties", {})
            for key in sorted(set(problem.instance) - set(known)):
                message = f"'{key}' is not a Claude Code setting.{did_you_mean(key, known)}"
                yield error((*where, key), message, "schema/claude-code-settings.json lists the keys", on_key=True)
        else:
            yield error(where, f"not a valid Claude Code setting: {problem.message}")


def managed_defaults(gateway: c.Gateway) -> dict[str, Any]:
    """What every policy starts from: ``DEFAULT_ENV``, and ``modelPricing`` rows (USD per million tokens) for each
    model name a client may ask for that has a price here, so Claude Code's own cost figures match the gateway's."""
    overrides: dict[str, Any] = {}
    for name, route in sorted(gateway.routes.items()):
        target = route.targets[0] if route.targets else None
        price = find_price(target.provider, target.model, gateway.pricing) if target else None
        if price is None:
            continue
        cache_read = price.input if price.cache_read is None else price.cache_read
        cache_write = price.input if price.cache_write is None else price.cache_write
        overrides[name] = {
            "input": price.input,
            "output": price.output,
            "cacheRead": cache_read,
            "cacheWrite": cache_write,
        }
    defaults: dict[str, Any] = {"env": dict(DEFAULT_ENV)}
    if overrides:
        defaults["modelPricing"] = {"overrides": overrides}
    return defaults


def runtime_settings(managed: ManagedSettingsSpec | None, defaults: Mapping[str, Any]) -> c.ManagedSettings | None:
    """The runtime form: the base is ``defaults`` with the spec's document merged over it, the teams exactly the
    keys the spec wrote; lists as tuples (routing.py literals)."""
    if managed is None:
        return None
    from bifrostc.runtime.claude_gateway.managed import merge

    teams = {name: _document(doc.model_dump(exclude_unset=True)) for name, doc in sorted(managed.teams.items())}
    written = _document(managed.model_dump(exclude_unset=True, exclude={"teams"}))
    return c.ManagedSettings(settings=_document(merge(_document(dict(defaults)), written)), teams=teams)


def _document(raw: Mapping[str, Any]) -> dict[str, c.JsonValue]:
    frozen = _freeze(dict(raw))
    assert isinstance(frozen, dict)
    return frozen


def _freeze(value: object) -> c.JsonValue:
    if isinstance(value, dict):
        return {str(k): _freeze(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    raise TypeError(f"managed settings value {value!r} is not JSON")
