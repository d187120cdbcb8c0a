"""Routing rules at run time: the facts a rule's condition reads, and which rule (if any) picks the route.

Conditions are compiled by ``bifrostc build`` into plain functions of ``RuleVars`` in out/routing.py; this
module only builds the variables once per request and walks the rules in the order the compiler fixed:
the key's rules, its team's, its customer's, then the global ones (each scope by priority, then file order).
The first match wins; no match leaves today's resolution (names, aliases, tiers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from starlette.datastructures import Headers

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


@dataclass  # not frozen, not slots: the gateway's builder sets only the variables a key's rules read (``builder``)
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


# The class-level value a variable nobody set reads (dataclass keeps none for a default_factory field).
setattr(RuleVars, "headers", MappingProxyType({}))  # noqa: B010 (mypy refuses the plain assignment)
setattr(RuleVars, "params", MappingProxyType({}))  # noqa: B010

# How the builder computes each variable from rule_vars' arguments (one expression each; _t: thinking is on).
_SOURCES: dict[str, str] = {
    "model": "model",
    "provider": "_provider(model, providers)",
    "request_type": "endpoint",
    "headers": "_lower_headers(headers)",
    "params": "body",
    "virtual_key_name": 'getattr(key, "key_name", "") or ""',
    "team_name": 'getattr(key, "team", "") or ""',
    "customer_name": 'getattr(key, "customer", "") or ""',
    "tier": "tier_word(model)",
    "dialect": "dialect",
    "stream": "chat.stream",
    "input_tokens": "prompt_estimate(body)",
    "max_tokens": "chat.max_tokens or 0",
    "thinking": "_thinking_on(chat)",
    "thinking_budget": "_thinking_budget(chat)",
    "tools": "_tool_names(chat)",
    "messages": "len(chat.messages)",
    "session_id": 'session or ""',
    "budget_used": 'levels.get("budget_used", 0.0)',
    "tokens_used": 'levels.get("tokens_used", 0.0)',
    "request": 'levels.get("request", 0.0)',
}
assert _SOURCES.keys() == VARIABLES.keys()
Builder = Callable[..., RuleVars]
Matcher = Callable[[RuleVars, Mapping[str, Any]], "config.Rule | None"]
Chain = Callable[..., "config.Rule | None"]


@functools.lru_cache(maxsize=512)  # model strings repeat (a handful per deployment); bounded for hostile ones
def tier_word(model: str) -> str:
    lowered = model.lower()
    return next((t for t in TIERS if t in lowered), "")  # in the order Router.tier_of tries them


def names_read(rule: config.Rule) -> frozenset[str]:
    """The variables a rule's compiled condition reads: every one is an attribute ``v.<name>``, so it is among
    the code's names (a superset is harmless); all of them for a test that is not plain code."""
    code = getattr(rule.test, "__code__", None)
    if code is None:
        return frozenset(VARIABLES)
    return frozenset(VARIABLES.keys() & set(code.co_names)) | frozenset(rule.reads)


_ARGS = "model, chat, body, dialect, endpoint, headers, key, session, providers, levels=None"


def _build_lines(names: frozenset[str], known: Mapping[str, str] | None = None) -> list[str]:
    """Straight-line code that builds ``v`` with only ``names`` computed (the rest read the class defaults);
    ``known``: variables whose value is fixed for this code (a chain's key, team and customer names)."""
    known = known or {}
    lines = ["    v = _new(RuleVars)"] + (["    levels = levels or _NONE"] if names & CAPACITY else [])
    return lines + [
        f"    v.{name} = {repr(known[name]) if name in known else _SOURCES[name]}"
        for name in VARIABLES
        if name in names
    ]


def _match_lines(rules: tuple[config.Rule, ...]) -> list[str]:
    """``first_match`` unrolled: each rule's test in turn (``_t0``...), ``input_tokens`` (the prompt estimate,
    O(body)) computed from ``body`` just before the first rule that reads it, so a request an earlier rule
    routes never pays for it."""
    lines, estimated = [], False
    for i, rule in enumerate(rules):
        if not estimated and "input_tokens" in names_read(rule):
            lines.append("    v.input_tokens = prompt_estimate(body)")
            estimated = True
        lines += [
            "    try:",
            f"        if _t{i}(v):",
            f"            return _r{i}",
            "    except _SKIPPED:",
            "        pass",
        ]
    return [*lines, "    return None"]


def _make(source: list[str], name: str, rules: tuple[config.Rule, ...] = ()) -> Any:
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "RuleVars": RuleVars,
        "_NONE": MappingProxyType({}),
        "_SKIPPED": _SKIPPED,
        "_provider": _provider,
        "_lower_headers": _lower_headers,
        "tier_word": tier_word,
        "prompt_estimate": prompt_estimate,
        "_thinking_on": _thinking_on,
        "_thinking_budget": _thinking_budget,
        "_tool_names": _tool_names,
    }
    for i, rule in enumerate(rules):
        namespace[f"_t{i}"], namespace[f"_r{i}"] = rule.test, rule
    exec(compile("\n".join(source) + "\n", f"<rules: {name}>", "exec"), namespace)
    return namespace[name]


@functools.lru_cache(maxsize=256)
def builder(names: frozenset[str]) -> Builder:
    """A function of ``rule_vars``' arguments that computes only ``names``, made once per set of names."""
    made: Builder = _make([f"def build({_ARGS}):", *_build_lines(names), "    return v"], "build")
    return made


def matcher(rules: tuple[config.Rule, ...]) -> Matcher:
    """``first_match`` over these rules as one function ``(v, body)`` (see ``_match_lines``)."""
    made: Matcher = _make(["def match(v, body):", *_match_lines(rules)], "match", rules)
    return made


def chain(rules: tuple[config.Rule, ...], owners: tuple[str | None, str | None, str | None]) -> Chain:
    """A key's whole rule chain as one function of ``rule_vars``' arguments: build only the variables its rules
    read (``input_tokens`` when first needed), then test the rules in order; the first that holds, or None.
    ``owners``: the (key, team, customer) names the chain is made for, written in as constants."""
    read = frozenset().union(*(names_read(rule) for rule in rules)) - {"input_tokens"}
    known = dict(zip(("virtual_key_name", "team_name", "customer_name"), (n or "" for n in owners), strict=True))
    source = [f"def chain({_ARGS}):", *_build_lines(read, known), *_match_lines(rules)]
    made: Chain = _make(source, "chain", rules)
    return made


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
    build = builder(frozenset(VARIABLES.keys() - COSTLY | wanted))
    return build(model=model, chat=chat, body=body, dialect=dialect, endpoint=endpoint, headers=headers, key=key,
                 session=session, providers=providers, levels=levels)  # fmt: skip


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with lower-cased names (the last of a repeated one wins); Starlette's read from its raw list,
    the same pairs its ``items()`` decodes, without building that list first."""
    if isinstance(headers, Headers):
        return {k.decode("latin-1").lower(): x.decode("latin-1") for k, x in headers.raw}
    return {k.lower(): x for k, x in headers.items()}


def _provider(model: str, providers: Mapping[str, object]) -> str:
    provider, slash, _ = model.partition("/")
    return provider if slash and provider in providers else ""


def _thinking_on(chat: ChatRequest) -> bool:
    return chat.thinking is not None and chat.thinking.type != "disabled"


def _thinking_budget(chat: ChatRequest) -> int:
    return (chat.thinking.budget_tokens or 0) if chat.thinking is not None and chat.thinking.type != "disabled" else 0


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


_SKIPPED = (TypeError, KeyError, IndexError, ValueError, ZeroDivisionError)


def first_match(rules: tuple[config.Rule, ...], facts: RuleVars) -> config.Rule | None:
    for rule in rules:
        try:
            if rule.test(facts):
                return rule
        except _SKIPPED:
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


def key_rules(router: Router, key: Any) -> tuple[tuple[config.Rule, ...], frozenset[str], frozenset[str], Chain]:
    """``rules_for``, the costly variables they read, the capacity ones among them and their ``chain``, kept per
    (key, team, customer) on the router (rebuilt on every reload)."""
    names = (getattr(key, "key_name", None), getattr(key, "team", None), getattr(key, "customer", None))
    found = router.rule_cache.get(names)
    if found is None:
        rules = rules_for(router.gateway, key)
        wanted = reads(rules)
        found = router.rule_cache[names] = (rules, wanted, wanted & CAPACITY, chain(rules, names))
    return found


def capacity_needed(router: Router, key: Any) -> frozenset[str]:
    """The live-capacity variables the key's rules read: what to ask ``Hooks.capacity`` for before routing."""
    return key_rules(router, key)[2] if router.gateway.rules else frozenset()


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
    decide = key_rules(router, ctx.key)[3]
    # positional: a call with ten keywords costs a few hundred ns more
    rule = decide(ctx.requested_model, chat, body, ctx.dialect, ctx.endpoint, ctx.headers, ctx.key, ctx.session,
                  gateway.providers, levels)  # fmt: skip
    if rule is None:
        return router.resolve(ctx.requested_model), None
    return rule_route(rule) or router.resolve(rule.route), rule
