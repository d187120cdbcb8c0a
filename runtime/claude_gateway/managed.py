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
from collections.abc import Iterable, Mapping, Sequence

from bifrostc.runtime.config import JsonValue, ManagedSettings

UNION_LISTS = frozenset({"deny", "deniedMcpServers"})
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
    """The team's document: its overrides over the base (which the compiler gave the gateway's defaults:
    ``compiler.spec_claude_gateway.managed_defaults``)."""
    return merge(managed.settings, managed.teams.get(team, {}) if team else {})


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


def served(managed: ManagedSettings, team: str | None) -> dict[str, JsonValue]:
    """The ``{uuid, checksum, settings}`` document the endpoint answers a member of ``team`` with."""
    settings = settings_for(managed, team)
    own = team if team in managed.teams else None  # a team without overrides gets the base policy
    return {"uuid": policy_uuid(own), "checksum": checksum(settings), "settings": settings}


def managed_documents(managed: ManagedSettings, teams: Iterable[str]) -> dict[str, JsonValue]:
    """Every policy as served (out/managed-settings.json): ``default`` for callers without a team, then each team."""
    return {"default": served(managed, None), "teams": {team: served(managed, team) for team in sorted(teams)}}
