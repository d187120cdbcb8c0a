"""Routing-rule checks: every condition parsed and type-checked before anything runs, every route it names known.

Errors inside a condition point at the line and column within the expression; a rule that can never match
because an earlier one in its scope always does, and a tool rule sent to a route without tool calling, warn.
"""

from __future__ import annotations

from collections.abc import Iterator

from bifrostc.compiler.diagnostics import Diagnostic, Path, Severity, Span, error, warning
from bifrostc.compiler.references import Resolver
from bifrostc.compiler.rules_cel import CelError, compile_condition
from bifrostc.compiler.spec import GatewaySpec
from bifrostc.compiler.spec_rules import RuleSpec, expand_slots


def scoped_rules(spec: GatewaySpec) -> Iterator[tuple[Path, str, str, RuleSpec]]:
    """(spec path, scope, owner, rule) for every rule of the spec, Claude Code slots first among the globals."""
    for slot, rule in expand_slots(spec.claude_code.routing):
        yield ("claude_code", "routing", slot), "global", "", rule
    for index, rule in enumerate(spec.rules):
        yield ("rules", index), "global", "", rule
    for index, key in enumerate(spec.virtual_keys):
        for i, rule in enumerate(key.rules):
            yield ("virtual_keys", index, "rules", i), "key", key.name, rule
    for name, team in spec.teams.items():
        for i, rule in enumerate(team.rules):
            yield ("teams", name, "rules", i), "team", name, rule
    for name, customer in spec.customers.items():
        for i, rule in enumerate(customer.rules):
            yield ("customers", name, "rules", i), "customer", name, rule


def check_rules(spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    seen: dict[tuple[str, str], set[str]] = {}
    always: dict[tuple[str, str], str] = {}  # scope -> the first rule in it whose condition is always true
    for path, scope, owner, rule in scoped_rules(spec):
        slot = path[0] == "claude_code"
        names = seen.setdefault((scope, owner), set())
        if rule.name in names:
            found.append(error((*path, "name"), f"duplicate rule name '{rule.name}' in this scope"))
        names.add(rule.name)
        if not slot:
            found.extend(_target_shape(path, rule))
        found.extend(_references(path, rule, resolver, slot))
        try:
            compiled = compile_condition(rule.when)
        except CelError as exc:
            where = path if slot else (*path, "when")
            inner = None if slot else Span(exc.line, exc.col)
            found.append(Diagnostic(Severity.ERROR, where, f"rule '{rule.name}': {exc.message}", exc.hint, inner=inner))
            continue
        earlier = always.get((scope, owner))
        if earlier is not None:
            found.append(warning((*path, "name"), f"rule '{rule.name}' can never match: '{earlier}' always does"))
        elif compiled.python == "True":
            always[(scope, owner)] = rule.name
        found.extend(_tools_warning(path, rule, spec, resolver))
    return found


def _target_shape(path: Path, rule: RuleSpec) -> list[Diagnostic]:
    if (rule.route is None) == (not rule.targets):
        return [error(path, f"rule '{rule.name}': give exactly one of route or targets", on_key=True)]
    return []


def _references(path: Path, rule: RuleSpec, resolver: Resolver, slot: bool) -> list[Diagnostic]:
    from bifrostc.compiler.checks import unknown_ref

    found = []
    if rule.route is not None and resolver.resolve(rule.route) is None:
        found.append(unknown_ref(path if slot else (*path, "route"), rule.route, resolver, "route"))
    for i, target in enumerate(rule.targets):
        if target.provider not in resolver.providers:
            found.append(error((*path, "targets", i, "provider"), f"unknown provider '{target.provider}'"))
    for i, ref in enumerate(rule.fallbacks):
        if resolver.resolve(ref) is None:
            found.append(unknown_ref((*path, "fallbacks", i), ref, resolver))
    return found


def _tools_warning(path: Path, rule: RuleSpec, spec: GatewaySpec, resolver: Resolver) -> list[Diagnostic]:
    if rule.route is None or "tools" not in rule.when:
        return []
    name = resolver.resolve(rule.route)
    model = spec.models.get(name or "")
    if model is not None and not model.tools:
        return [
            warning(path, f"rule '{rule.name}' selects requests by their tools but route '{name}' has tools: false")
        ]
    return []
