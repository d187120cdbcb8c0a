"""``bifrostc explain --request req.json``: the routing rules a request meets, evaluated by the generated code.

Parses the body with the client dialect the gateway would use, builds the same ``RuleVars``
(``runtime.rules.rule_vars``) and walks the same rules in the same order (``rules_for``/``first_match``), then
explains the model the winning rule sends to, exactly as for a plain model string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bifrostc.compiler.explain import Explanation, explain, key_of
from bifrostc.runtime import config as c
from bifrostc.runtime.dialects import DIALECTS
from bifrostc.runtime.dialects.base import Inbound
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.rules import VARIABLES, RuleVars, first_match, rule_vars, rules_for

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def explain_request(
    gateway: c.Gateway,
    body: dict[str, Any],
    dialect: str,
    headers: Mapping[str, str],
    key_name: str | None,
    levels: Mapping[str, float] | None = None,
) -> Explanation:
    """``levels``: the live-capacity variables (budget_used, ...) the gateway would read from its counters."""
    chosen = next((d for d in DIALECTS if d.name == dialect), None)
    if chosen is None:
        names = ", ".join(d.name for d in DIALECTS)
        return Explanation(f"unknown dialect '{dialect}' (one of: {names})\n", served=False)
    call = Inbound(body, {}, chosen.endpoints[0], headers=headers)
    try:
        model = chosen.requested_model(call)
        chat = chosen.parse(call)
    except GatewayError as exc:
        return Explanation(f"the gateway would refuse this body with {exc.status}: {exc.message}\n", served=False)
    key = key_of(gateway, key_name)
    facts = rule_vars(
        model=model,
        chat=chat,
        body=body,
        dialect=chosen.name,
        endpoint=chosen.log_endpoint,
        headers=headers,
        key=key,
        session=chosen.session(call),
        providers=gateway.providers,
        levels=levels,
    )
    rules = rules_for(gateway, key)
    lines = []
    matched = first_match(rules, facts)
    for rule in rules:
        where = "global" if rule.scope == "global" else f"{rule.scope} {rule.owner}"
        verdict = "MATCHED" if rule is matched else "no match"
        lines.append(f"rule {rule.name} ({where}): {verdict}: {' '.join(rule.when.split())}  [{_reads(rule, facts)}]")
        if rule is matched:
            break
    if not rules:
        lines.append("no routing rules apply")
    if matched is None:
        lines.append(f"no rule matched: {model!r} is resolved by name")
        answer = explain(gateway, model, key_name)
        return Explanation("\n".join(lines) + "\n" + answer.text, answer.served, answer.route)
    if matched.targets:
        goes = ", ".join(f"{t.provider}/{t.model} (weight {t.weight:g})" for t in matched.targets)
        fallbacks = f"; then {', '.join(matched.fallbacks)}" if matched.fallbacks else ""
        lines.append(f"-> the rule's targets: {goes}{fallbacks}")
        return Explanation("\n".join(lines) + "\n", served=True, route=f"rule:{matched.name}")
    answer = explain(gateway, matched.route, key_name, asked=model)
    return Explanation("\n".join(lines) + "\n" + answer.text, answer.served, answer.route)


def _reads(rule: c.Rule, facts: RuleVars) -> str:
    """The variables a condition reads, with this request's values."""
    names = sorted({n for n in _IDENT.findall(_without_strings(rule.when)) if n in VARIABLES})
    return ", ".join(f"{n}={_show(getattr(facts, n))}" for n in names)


def _without_strings(source: str) -> str:
    return re.sub(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'", '""', source)


def _show(value: object) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {str(v)[:40]}" for k, v in sorted(value.items()) if isinstance(v, str)) + "}"
    return repr(value) if not isinstance(value, tuple) else "[" + ", ".join(value) + "]"
