"""``claude_code.managed_settings``: the Claude Code managed-settings document the gateway serves per team.

The document is Claude Code's own ``managed-settings.json``, so unknown keys are kept (Claude Code grows new
ones every release) and only reported as warnings; the keys we know the type of (``permissions.allow/ask/deny``,
``env``, ``model``) are validated here so a wrong type is an error with line:col. ``teams`` holds per-team
overrides merged over the base (see ``bifrostc.runtime.claude_gateway.managed``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bifrostc.compiler.diagnostics import Diagnostic, Severity, did_you_mean, error
from bifrostc.runtime import config as c

# Top-level keys of Claude Code's settings reference; anything else is passed through with a warning.
KNOWN_SETTINGS = frozenset(
    {
        "allowManagedHooksOnly",
        "allowManagedPermissionRulesOnly",
        "allowedMcpServers",
        "alwaysThinkingEnabled",
        "apiKeyHelper",
        "attribution",
        "autoUpdatesChannel",
        "availableModels",
        "awsAuthRefresh",
        "awsCredentialExport",
        "cleanupPeriodDays",
        "companyAnnouncements",
        "deniedMcpServers",
        "disableAllHooks",
        "disabledMcpjsonServers",
        "enableAllProjectMcpServers",
        "enabledMcpjsonServers",
        "enabledPlugins",
        "env",
        "extraKnownMarketplaces",
        "fileSuggestion",
        "forceLoginMethod",
        "forceLoginOrgUUID",
        "hooks",
        "includeCoAuthoredBy",
        "includeGitInstructions",
        "language",
        "managedMcpServers",
        "model",
        "otelHeadersHelper",
        "outputStyle",
        "permissions",
        "plansDirectory",
        "respectGitignore",
        "sandbox",
        "skipWebFetchPreflight",
        "spinnerTipsEnabled",
        "statusLine",
        "strictKnownMarketplaces",
    }
)


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
    """Unknown top-level settings keys (warnings) and overrides for teams the spec does not define (errors)."""
    if managed is None:
        return []
    base = ("claude_code", "managed_settings")
    found: list[Diagnostic | None] = [_unknown(base, key) for key in sorted(managed.model_extra or {})]
    for team, override in managed.teams.items():
        path = (*base, "teams", team)
        if team not in teams:
            found.append(error(path, f"unknown team '{team}'.{did_you_mean(team, teams)}", on_key=True))
        found += [_unknown(path, key) for key in sorted(override.model_extra or {})]
    return [d for d in found if d is not None]


def _unknown(path: tuple[str, ...], key: str) -> Diagnostic | None:
    if key in KNOWN_SETTINGS:
        return None
    message = f"'{key}' is not a Claude Code setting bifrostc knows; it is served as written."
    return Diagnostic(Severity.WARNING, (*path, key), message + did_you_mean(key, KNOWN_SETTINGS), on_key=True)


def runtime_settings(managed: ManagedSettingsSpec | None) -> c.ManagedSettings | None:
    """The runtime form: exactly the keys the spec wrote, lists as tuples (routing.py literals)."""
    if managed is None:
        return None
    teams = {name: _document(doc) for name, doc in sorted(managed.teams.items())}
    return c.ManagedSettings(settings=_document(managed, exclude={"teams"}), teams=teams)


def _document(doc: SettingsDocument, exclude: set[str] | None = None) -> dict[str, c.JsonValue]:
    raw = doc.model_dump(exclude_unset=True, exclude=exclude)
    frozen = _freeze(raw)
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
