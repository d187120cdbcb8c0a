"""``bifrostc diff``: every difference between two compiled plans (the runtime ``config.Gateway``), field by field.

The walk is generic: dataclasses by ``dataclasses.fields``, dicts by key, so a field added to ``runtime/config.py``
is compared without a change here. Three views keep the output to one line per change:
- a route is listed once, under its name; its other public names are one field, ``aliases`` (the plan maps every
  alias, and each Claude Code tier, to the same Route; tiers are listed under ``tiers``);
- tuples of dataclasses are matched by identity: ``name``, else their text fields (a KeyRef by ``env``, a Target by
  ``provider/model``), and a changed order is one line of its own (target order decides session placement);
- tuples of string pairs (options, headers, env) are compared as mappings;
- routing rules are keyed by where they apply and their name (``key alice: gold``), in evaluation order, so a rule
  is added, removed, reordered (evaluation order decides which matches) or changed field by field; the compiled
  condition function is left out (its CEL source, ``when``, is compared).
"""

from __future__ import annotations

import dataclasses

from bifrostc.runtime import config as c


class _Record:
    """A dataclass seen as its fields (paths ``a.b``); also views the plan does not hold as one object."""

    __slots__ = ("defaults", "fields", "kind")

    def __init__(self, kind: str, fields: dict[str, object], defaults: dict[str, object] | None = None) -> None:
        self.kind, self.fields, self.defaults = kind, fields, defaults or {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Record) and (self.kind, self.fields) == (other.kind, other.fields)

    __hash__ = None  # type: ignore[assignment]


def diff_gateways(old: c.Gateway, new: c.Gateway) -> list[str]:
    """Lines ``+ path: value`` (added), ``- path: value`` (removed), ``~ path: before -> after``; empty when equal."""
    lines: list[str] = []
    _walk(_view(old), _view(new), "", lines)
    return lines


def _view(gateway: c.Gateway) -> _Record:
    record = _record(gateway)
    groups: dict[str, tuple[c.Route, list[str]]] = {}
    for public, route in gateway.routes.items():
        canonical = gateway.routes.get(route.name, route)
        entry = route.name if route == canonical else public  # a name mapped to another Route stands alone
        if entry not in groups:
            groups[entry] = (route, [])
        if public != entry and gateway.tiers.get(public) != route.name:  # tiers are listed under `tiers`
            groups[entry][1].append(public)
    routes: dict[str, object] = {}
    for entry, (route, aliases) in sorted(groups.items()):
        plain = _record(route)
        fields = {"aliases": tuple(sorted(aliases)), **plain.fields}
        routes[entry] = _Record("Route", fields, {"aliases": (), **plain.defaults})
    record.fields["routes"] = routes
    rules = _Keyed()
    for rule in gateway.rules:
        plain = _record(rule)
        del plain.fields["test"]
        rules["global: " + rule.name if rule.scope == "global" else f"{rule.scope} {rule.owner}: {rule.name}"] = plain
    record.fields["rules"] = rules
    if gateway.claude_code.managed_settings is not None:
        record.fields["claude_code"] = _claude_code_view(gateway)
    return record


def _claude_code_view(gateway: c.Gateway) -> _Record:
    """The managed settings as each caller gets them (``[default]``, ``[team:<name>]``), so a change to the base
    or to one team's overrides reads as what changes for whom."""
    from bifrostc.runtime.claude_gateway.managed import settings_for

    managed = gateway.claude_code.managed_settings
    assert managed is not None
    plain = _record(gateway.claude_code)
    policies: dict[str, object] = {"default": settings_for(managed, None)}
    policies.update({f"team:{team}": settings_for(managed, team) for team in sorted(gateway.teams)})
    fields = {**plain.fields, "managed_settings": policies}
    return _Record("ClaudeGateway", fields, plain.defaults)


def _record(value: object) -> _Record:
    assert dataclasses.is_dataclass(value) and not isinstance(value, type)
    fields = dataclasses.fields(value)
    return _Record(type(value).__name__, {f.name: getattr(value, f.name) for f in fields}, _defaults(fields))


def _walk(old: object, new: object, path: str, lines: list[str]) -> None:
    if old == new:
        return
    old, new = _structured(old), _structured(new)
    if isinstance(old, dict) and new == ():  # a list emptied or filled: compare as mappings
        new = type(old)()
    elif isinstance(new, dict) and old == ():
        old = type(new)()
    if isinstance(old, _Record) and isinstance(new, _Record) and old.kind == new.kind:
        for name, value in old.fields.items():
            _walk(value, new.fields[name], f"{path}.{name}" if path else name, lines)
    elif isinstance(old, dict) and isinstance(new, dict):
        _walk_mapping(old, new, path, lines)
    else:
        lines.append(f"~ {path}: {_text(old)} -> {_text(new)}")


def _walk_mapping(old: dict[object, object], new: dict[object, object], path: str, lines: list[str]) -> None:
    common_old = [k for k in old if k in new]
    common_new = [k for k in new if k in old]
    if getattr(old, "ordered", False) and common_old != common_new:
        lines.append(f"~ {path} order: {_text(tuple(common_old))} -> {_text(tuple(common_new))}")
    for key in sorted(old.keys() | new.keys(), key=str):
        where = f"{path}[{key}]"
        if key not in new:
            lines.append(f"- {where}: {_text(old[key])}")
        elif key not in old:
            lines.append(f"+ {where}: {_text(new[key])}")
        else:
            _walk(old[key], new[key], where, lines)


class _Keyed(dict[object, object]):
    """A tuple of dataclasses keyed by identity; its order is part of its meaning."""

    ordered = True


def _structured(value: object) -> object:
    """Dataclasses as records and identity-keyed tuples as mappings; anything else is a leaf."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _record(value)
    if isinstance(value, tuple) and value and all(dataclasses.is_dataclass(item) for item in value):
        keyed = _Keyed()
        for item in value:
            ident = _identity(item)
            keyed[ident if ident not in keyed else f"{ident}#{len(keyed)}"] = item
        return keyed
    if isinstance(value, tuple) and value and all(_is_pair(item) for item in value):
        return dict(value)
    return value


def _is_pair(item: object) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)


def _identity(item: object) -> str:
    fields = _record(item).fields
    if isinstance(fields.get("name"), str):
        return str(fields["name"])
    return "/".join(value for value in fields.values() if isinstance(value, str))


def _text(value: object) -> str:
    """Values as a spec author writes them; a dataclass as its non-default fields."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = _record(value)
    if isinstance(value, _Record):
        missing = dataclasses.MISSING
        shown = [(k, v) for k, v in value.fields.items() if value.defaults.get(k, missing) != v]
        return f"{value.kind}({', '.join(f'{name}={_text(item)}' for name, item in shown)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_text(item) for item in value) + "]"
    return str(value)


def _defaults(fields: tuple[dataclasses.Field[object], ...]) -> dict[str, object]:
    """Each field's default value (omitted when a dataclass is printed); fields without one are always shown."""
    found: dict[str, object] = {}
    for field in fields:
        if field.default_factory is not dataclasses.MISSING:
            found[field.name] = field.default_factory()
        elif field.default is not dataclasses.MISSING:
            found[field.name] = field.default
    return found
