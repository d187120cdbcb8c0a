"""Routing rules at run time: the facts a rule's condition reads, and which rule (if any) picks the route.

Conditions are compiled by ``bifrostc build`` into plain functions of ``RuleVars`` in out/routing.py; this
module only builds the variables once per request and walks the rules in the order the compiler fixed:
the key's rules, its team's, its customer's, then the global ones (each scope by priority, then file order).
The first match wins; no match leaves today's resolution (names, aliases, tiers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bifrostc.runtime import config
from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.dialects.relay import prompt_estimate
from bifrostc.runtime.router import TIERS
from bifrostc.runtime.translate.common import ANTHROPIC_SERVER_TOOLS
from bifrostc.runtime.types import ChatRequest

if TYPE_CHECKING:
    from bifrostc.runtime.router import Router

VarType = Literal["int", "double", "string", "bool", "list", "map", "dyn", "null"]

# Named as Bifrost names them where it has them, so a rule carries over; the rest is what an agent's request is.
VARIABLES: dict[str, VarType] = {
    "model": "string",  # as requested
    "provider": "string",  # the provider of a 'provider/model' request, else ""
    "request_type": "string",  # messages | chat | responses
    "headers": "map",  # lower-cased names; a missing header reads as ""
    "params": "map",  # the request body's top-level fields
    "virtual_key_name": "string",
    "team_name": "string",
    "customer_name": "string",
    "tier": "string",  # sonnet | opus | haiku when the model names a Claude Code tier, else ""
    "dialect": "string",  # anthropic | openai | responses
    "stream": "bool",
    "input_tokens": "int",  # the estimate count_tokens gives without an upstream
    "max_tokens": "int",
    "thinking": "bool",
    "thinking_budget": "int",
    "tools": "list",  # tool names, so "web_search" in tools works
    "messages": "int",
    "session_id": "string",
    # Live capacity, 0-100 (the fullest scope of the key's chain; 0 without a limit), read from the counters the
    # budgets and rate limits use, so every replica sharing Redis reads the same value. Read only for a key whose
    # rules name them (config.Rule.reads).
    "budget_used": "double",  # spend of the current budget window, % of max_usd
    "tokens_used": "double",  # tokens in the sliding minute, % of tokens_per_minute
    "request": "double",  # requests in the sliding minute, % of requests_per_minute
}
CAPACITY = frozenset({"budget_used", "tokens_used", "request"})
# The variables that cost something per request: built only for a key whose rules read them (``Rule.reads``).
# input_tokens serialises the prompt (tens of µs for an agent's 100 kB body), headers copies the client's headers
# into a dict (a lookup in Starlette's Headers scans them all), the capacity ones read the store.
COSTLY = CAPACITY | {"input_tokens", "headers"}


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~3x as much, once per routed request
class RuleVars:
    model: str = ""
    provider: str = ""
    request_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    virtual_key_name: str = ""
    team_name: str = ""
    customer_name: str = ""
    tier: str = ""
    dialect: str = ""
    stream: bool = False
    input_tokens: int = 0
    max_tokens: int = 0
    thinking: bool = False
    thinking_budget: int = 0
    tools: tuple[str, ...] = ()
    messages: int = 0
    session_id: str = ""
    budget_used: float = 0.0
    tokens_used: float = 0.0
    request: float = 0.0


def tier_word(model: str) -> str:
    lowered = model.lower()
    return next((t for t in TIERS if t in lowered), "")  # in the order Router.tier_of tries them


def rule_vars(
    *,
    model: str,
    chat: ChatRequest,
    body: Mapping[str, Any],
    dialect: str,
    endpoint: str,
    headers: Mapping[str, str],
    key: Any,
    session: str | None,
    providers: Mapping[str, object],
    levels: Mapping[str, float] | None = None,
    wanted: frozenset[str] = COSTLY,
) -> RuleVars:
    """The variables of one request (built only when the gateway has rules); ``levels`` the capacity ones.
    Of the ``COSTLY`` variables only the ``wanted`` ones are computed (the rest read 0)."""
    levels = levels or {}
    provider, slash, _ = model.partition("/")
    thinking = chat.thinking is not None and chat.thinking.type != "disabled"
    return RuleVars(
        model=model,
        provider=provider if slash and provider in providers else "",
        request_type=endpoint,
        headers={k.lower(): v for k, v in headers.items()} if "headers" in wanted else {},
        params=body,
        virtual_key_name=getattr(key, "key_name", "") or "",
        team_name=getattr(key, "team", "") or "",
        customer_name=getattr(key, "customer", "") or "",
        tier=tier_word(model),
        dialect=dialect,
        stream=chat.stream,
        input_tokens=prompt_estimate(body) if "input_tokens" in wanted else 0,
        max_tokens=chat.max_tokens or 0,
        thinking=thinking,
        thinking_budget=(chat.thinking.budget_tokens or 0) if thinking and chat.thinking else 0,
        tools=_tool_names(chat),
        messages=len(chat.messages),
        session_id=session or "",
        budget_used=levels.get("budget_used", 0.0),
        tokens_used=levels.get("tokens_used", 0.0),
        request=levels.get("request", 0.0),
    )


def _tool_names(chat: ChatRequest) -> tuple[str, ...]:
    """Function tools and the provider's own tools (Anthropic's web_search_20250305 is named web_search)."""
    server = chat.extra.get(ANTHROPIC_SERVER_TOOLS) or ()
    names = [t.name for t in chat.tools]
    if server:
        names += [str(t.get("name") or t.get("type") or "") for t in server if isinstance(t, dict)]
    return tuple(names)


def rules_for(gateway: config.Gateway, key: Any) -> tuple[config.Rule, ...]:
    """The rules that apply to ``key``, in evaluation order (``GATEWAY.rules`` is already in it: key, team,
    customer, global, each by priority then file order; see compiler/plan_rules.build_rules)."""
    names = {
        "key": getattr(key, "key_name", None),
        "team": getattr(key, "team", None),
        "customer": getattr(key, "customer", None),
    }
    return tuple(r for r in gateway.rules if r.scope == "global" or names.get(r.scope) == r.owner)


def first_match(rules: tuple[config.Rule, ...], facts: RuleVars) -> config.Rule | None:
    for rule in rules:
        try:
            if rule.test(facts):
                return rule
        except (TypeError, KeyError, IndexError, ValueError, ZeroDivisionError):
            continue  # a condition over a value this request lacks (e.g. params["x"] > 1 with no x): no match
    return None


def rule_route(rule: config.Rule) -> config.Route | None:
    """The route a rule with inline ``targets`` sends to (a rule with ``route`` resolves that name instead)."""
    if not rule.targets:
        return None
    return config.Route(name=f"rule:{rule.name}", targets=rule.targets, fallbacks=rule.fallbacks)


def reads(rules: tuple[config.Rule, ...]) -> frozenset[str]:
    """The costly variables any of ``rules`` reads (the compiler lists them per rule)."""
    return frozenset(name for rule in rules for name in rule.reads)


def _key_rules(router: Router, key: Any) -> tuple[tuple[config.Rule, ...], frozenset[str], frozenset[str]]:
    """``rules_for``, the costly variables they read and the capacity ones among them, kept per (key, team,
    customer) on the router (rebuilt on every reload)."""
    names = (getattr(key, "key_name", None), getattr(key, "team", None), getattr(key, "customer", None))
    found = router.rule_cache.get(names)
    if found is None:
        rules = rules_for(router.gateway, key)
        wanted = reads(rules)
        found = router.rule_cache[names] = (rules, wanted, wanted & CAPACITY)
    return found


def capacity_needed(router: Router, key: Any) -> frozenset[str]:
    """The live-capacity variables the key's rules read: what to ask ``Hooks.capacity`` for before routing."""
    return _key_rules(router, key)[2] if router.gateway.rules else frozenset()


def pick_route(
    router: Router,
    ctx: RequestContext,
    chat: ChatRequest,
    body: Mapping[str, Any],
    levels: Mapping[str, float] | None = None,
) -> tuple[config.Route, config.Rule | None]:
    """The route for this request: the first matching rule's, else the model string's (Router.resolve).
    ``levels``: the live capacity (``Hooks.capacity`` of ``capacity_needed``), when the key's rules read any."""
    gateway = router.gateway
    if not gateway.rules:
        return router.resolve(ctx.requested_model), None
    rules, wanted, _ = _key_rules(router, ctx.key)
    facts = rule_vars(
        model=ctx.requested_model,
        chat=chat,
        body=body,
        dialect=ctx.dialect,
        endpoint=ctx.endpoint,
        headers=ctx.headers,
        key=ctx.key,
        session=ctx.session,
        providers=gateway.providers,
        levels=levels,
        wanted=wanted,
    )
    rule = first_match(rules, facts)
    if rule is None:
        return router.resolve(ctx.requested_model), None
    return rule_route(rule) or router.resolve(rule.route), rule
