"""GET /claude-code/managed/settings: the spec's managed-settings document for the caller's team.

A team's overrides are merged over the base: objects merge key by key, ``deny`` lists (``permissions.deny``,
``deniedMcpServers``) are unioned so a team can never lift a ban, every other list (``permissions.allow``...)
is replaced, ``env`` is merged shallowly and scalars are replaced. The checksum is Claude Code's own: ``sha256:``
and the hex SHA-256 of the settings as JSON with sorted keys and no whitespace.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence

from bifrostc.runtime.config import JsonValue, ManagedSettings

UNION_LISTS = frozenset({"deny", "deniedMcpServers"})
# What the gateway turns on unless the spec sets it: model discovery at /v1/models, and the hint headers that
# tell which settings a session runs under (protocol: Managed settings).
DEFAULT_ENV = {"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1", "CLAUDE_CODE_GATEWAY_HINT_HEADERS": "1"}
_NAMESPACE = uuid.UUID("6f1d3c8e-2b7a-4c55-9a43-0e4f6b1d2c9a")


def merge(base: Mapping[str, JsonValue], override: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge(current, value)
        elif key in UNION_LISTS and _is_list(current) and _is_list(value):
            assert isinstance(current, Sequence) and isinstance(value, Sequence)
            merged[key] = tuple(dict.fromkeys([*current, *value]))
        else:
            merged[key] = value
    return merged


def _is_list(value: object) -> bool:
    return isinstance(value, list | tuple)


def settings_for(managed: ManagedSettings, team: str | None) -> dict[str, JsonValue]:
    settings = merge(managed.settings, managed.teams.get(team, {}) if team else {})
    env = settings.get("env")
    settings["env"] = {**DEFAULT_ENV, **(env if isinstance(env, Mapping) else {})}
    return settings


def checksum(settings: Mapping[str, JsonValue]) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def policy_uuid(team: str | None) -> str:
    """Stable per policy (the base, or one team's), so a client can tell policies apart across polls."""
    return str(uuid.uuid5(_NAMESPACE, f"team:{team}" if team else "base"))


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2 weak comparison; ``*`` asks only whether settings exist, so it never matches here."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in tags
