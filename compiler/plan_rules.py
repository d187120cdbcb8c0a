"""Rules for the runtime: each CEL condition becomes a named Python function, emitted into out/routing.py.

The same function is built here (by compiling the emitted source), so ``bifrostc explain`` evaluates exactly
the code the gateway will run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bifrostc.compiler.checks_rules import scoped_rules
from bifrostc.compiler.references import Resolver
from bifrostc.compiler.routing_context import constant_name
from bifrostc.compiler.rules_cel import compile_condition, function_source
from bifrostc.compiler.spec import GatewaySpec
from bifrostc.runtime import config as c

SCOPE_ORDER = ("key", "team", "customer", "global")


def _function(function: str, python: str, patterns: tuple[str, ...]) -> Callable[[Any], bool]:
    namespace: dict[str, Any] = {"_re": re, "RuleVars": object}
    exec(compile(function_source(function, python, patterns), f"<rule {function}>", "exec"), namespace)
    made: Callable[[Any], bool] = namespace[function]
    return made


def build_rules(spec: GatewaySpec, resolver: Resolver) -> tuple[c.Rule, ...]:
    """Every rule of a validated spec, sorted by scope, then priority, then file order."""
    ordered = sorted(
        enumerate(scoped_rules(spec)),
        key=lambda item: (SCOPE_ORDER.index(item[1][1]), item[1][2], item[1][3].priority, item[0]),
    )
    taken: set[str] = set()
    rules = []
    for _, (_path, scope, owner, rule) in ordered:
        label = rule.name if scope == "global" else f"{scope}_{owner}_{rule.name}"
        function = constant_name("RULE_", label, taken).lower()
        compiled = compile_condition(rule.when)
        rules.append(
            c.Rule(
                name=rule.name,
                when=rule.when,
                test=_function(function, compiled.python, compiled.patterns),
                route=(resolver.resolve(rule.route) or rule.route) if rule.route else "",
                targets=tuple(c.Target(t.provider, t.model, t.weight) for t in rule.targets),
                fallbacks=tuple(resolver.resolve(f) or f for f in rule.fallbacks),
                scope=scope,
                owner=owner,
                priority=rule.priority,
                reads=tuple(sorted(compiled.reads)),
            )
        )
    return tuple(rules)
