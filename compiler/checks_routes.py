"""Rules over the compiled routes (``plan.build_gateway``), read through the runtime's own routing core and price
table, so a warning here is exactly what the gateway will do: routes Claude Code's model discovery would hide,
routed models the budgets cannot count (no price), and context windows (the route's, else the built-in table's)
that a route's context_fallbacks or a long-context rule cannot use.

They run only on a spec whose references resolve (``checks.run_all`` runs them when no other rule failed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bifrostc.compiler.checks_rules import scoped_rules
from bifrostc.compiler.diagnostics import Diagnostic, Path, warning
from bifrostc.compiler.plan import build_gateway
from bifrostc.compiler.references import TIERS
from bifrostc.compiler.rules_cel import compile_condition
from bifrostc.compiler.spec import GatewaySpec
from bifrostc.runtime import config as c
from bifrostc.runtime.governance.pricing import FREE_PROVIDER_TYPES, find_price
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.model_caps import RESPONSES_ONLY, smallest_window
from bifrostc.runtime.router import CLAUDE_CODE_KEEPS, Router


def run_all(spec: GatewaySpec) -> list[Diagnostic]:
    gateway = build_gateway(spec)
    router = Router(gateway)
    found = check_discovery(spec, gateway, router) + check_prices(spec, gateway)
    return found + check_windows(spec, gateway) + check_upstream_api(gateway)


def check_discovery(spec: GatewaySpec, gateway: c.Gateway, router: Router) -> list[Diagnostic]:
    """Claude Code's /model picker keeps only ids holding "claude" or "anthropic"; the model lists offer a
    generated ``claude-<route>`` id for the other routes, unless that id is another public name."""
    found = []
    aliased = set(router.discovery.values())
    for name in spec.models:
        route = gateway.routes[name]
        if name in aliased or any(CLAUDE_CODE_KEEPS.search(n) for n in router.names_of(route)):
            continue
        message = f"Claude Code's model discovery hides route '{name}': no public name of it holds 'claude'"
        message += " or 'anthropic', and the generated id 'claude-" + name.lower() + "' is taken by another name"
        hint = f"add an alias holding 'claude' (e.g. `aliases: [claude-{name.lower()}-route]`) to list it in /model"
        found.append(warning(("models", name), message, hint))
    return found


def _routed(spec: GatewaySpec) -> Iterator[tuple[Path, str, str]]:
    """(spec path, provider, model) of every target a request can reach, each model once."""
    seen: set[tuple[str, str]] = set()
    for name, model in spec.models.items():
        placed: list[tuple[Path, str, str]] = []
        if model.target:
            provider, _, upstream = model.target.partition("/")
            placed.append((("models", name, "target"), provider, upstream))
        placed += [(("models", name, "targets", i), t.provider, t.model) for i, t in enumerate(model.targets)]
        for index, ref in enumerate(model.fallbacks):
            provider, slash, upstream = ref.partition("/")
            if slash and ref not in spec.models and provider in spec.providers:
                placed.append((("models", name, "fallbacks", index), provider, upstream))
        yield from _once(placed, seen)
    tiers: list[tuple[Path, str, str]] = []
    for tier in TIERS:  # a tier set straight to 'provider/model'
        ref = getattr(spec.claude_code, tier)
        provider, slash, upstream = (ref or "").partition("/")
        if slash and ref not in spec.models and provider in spec.providers:
            tiers.append((("claude_code", tier), provider, upstream))
    yield from _once(tiers, seen)


def _once(placed: list[tuple[Path, str, str]], seen: set[tuple[str, str]]) -> Iterator[tuple[Path, str, str]]:
    for entry in placed:
        if (entry[1], entry[2]) not in seen:
            seen.add((entry[1], entry[2]))
            yield entry


def check_prices(spec: GatewaySpec, gateway: c.Gateway) -> list[Diagnostic]:
    """A routed model with no price (spec ``pricing:`` or the built-in table) costs $0: budgets never count it."""
    found = []
    for path, provider, model in _routed(spec):
        kind = spec.providers[provider].type if provider in spec.providers else ""
        if kind in FREE_PROVIDER_TYPES or find_price(provider, model, gateway.pricing) is not None:
            continue
        message = f"no price for {provider}/{model}: budgets will not count this route; add pricing:"
        hint = f"`pricing: {{{provider}/{model}: {{input: <USD/1M>, output: <USD/1M>}}}}` or `pricing:` on the model"
        found.append(warning(path, message, hint))
    return found


_OVER = re.compile(r"\(v\.input_tokens >=? (\d+)\)")  # a compiled `input_tokens > N` (rules_cel's output)


def route_window(route: c.Route) -> int | None:
    """The input tokens a route takes: its ``context_window``, else the smallest of its targets' in the table."""
    return route.context_window or smallest_window(t.model for t in route.targets)


def check_windows(spec: GatewaySpec, gateway: c.Gateway) -> list[Diagnostic]:
    found = []
    for name, model in spec.models.items():
        if model.context_fallbacks and gateway.routes[name].context_window is None:
            message = "context_fallbacks are tried only after an upstream overflow error: no context_window is set"
            message += " and the built-in table does not know every target"
            hint = "set context_window (input tokens) to move a prompt that does not fit before any upstream call"
            found.append(warning(("models", name, "context_fallbacks"), message, hint))
    paths = {(scope, owner, rule.name): path for path, scope, owner, rule in scoped_rules(spec)}
    for rule in gateway.rules:
        over = [int(n) for n in _OVER.findall(compile_condition(rule.when).python)]
        route = c.Route(rule.name, rule.targets) if rule.targets else gateway.routes.get(rule.route)
        window = route_window(route) if route is not None and over else None
        if window is not None and window < max(over):
            where = f"route '{rule.route}' takes" if rule.route else "its targets take"
            message = f"rule '{rule.name}' selects prompts over {max(over)} tokens but {where} only {window}"
            hint = "send it to a route with a larger context_window, or lower the threshold"
            found.append(warning(paths[(rule.scope, rule.owner, rule.name)], message, hint))
    return found


def check_upstream_api(gateway: c.Gateway) -> list[Diagnostic]:
    """`options.api` entries: one naming a model no route or rule sends to that provider does nothing; `chat` for
    a model OpenAI serves only on the Responses API is answered 404 by OpenAI."""
    sent = {(t.provider, t.model) for r in gateway.routes.values() for t in r.targets}
    sent |= {(t.provider, t.model) for rule in gateway.rules for t in rule.targets}
    found = []
    for name, provider in gateway.providers.items():
        if not isinstance(provider.options, c.OpenAIOptions):
            continue  # Bedrock's `api` is another option (converse | invoke)
        for model, api in provider.options.api.items():
            path: Path = ("providers", name, "options", "api", model)
            if (name, model) not in sent:
                message = f"options.api names '{model}', which no route or rule sends to provider '{name}'"
                found.append(warning(path, message, "use the upstream model id a target of this provider names"))
            elif (
                api == "chat"
                and registry.provider_type(provider.type).caps.responses
                and RESPONSES_ONLY.search(model.rsplit("/", 1)[-1])
            ):
                message = f"OpenAI serves '{model}' only on the Responses API: chat/completions answers 404"
                found.append(warning(path, message, "remove the entry: this model goes to /responses by default"))
    return found
