"""Per-request cost of routing rules, in µs: 20 global rules plus 5 of the key's own, none matching (every one is
evaluated), for a captured Claude Code 2.1.332 request (tests/fixtures/claude_code/first-turn-1.json, 88 kB).
Twice: with the conditions as written (some read input_tokens, so the prompt is estimated: O(body size)) and with
input_tokens swapped for max_tokens (no estimate is made for a key whose rules do not read it).

Compiled by the real compiler (`compile_spec`), so the conditions are the functions `bifrostc build` writes into
out/routing.py. Timed: `runtime.rules.pick_route` (the variables built once, the key's rules walked, the route
resolved), split into its parts, each as the minimum of several repeats (the machine is shared: the minimum is the
figure least disturbed by other load). Run: python bench/rules_cost.py [--number N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import timeit
from pathlib import Path
from typing import Any

import yaml
from starlette.datastructures import Headers

from bifrostc.compiler.api import compile_spec
from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.dialects import DIALECTS
from bifrostc.runtime.dialects.base import Inbound
from bifrostc.runtime.dialects.relay import prompt_estimate
from bifrostc.runtime.governance.keys import KeyRing
from bifrostc.runtime.router import Router
from bifrostc.runtime.rules import (
    builder,
    capacity_needed,
    first_match,
    matcher,
    names_read,
    pick_route,
    reads,
    rules_for,
)

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "claude_code" / "first-turn-1.json"
# Twenty global conditions of the kinds people write (headers, tiers, sizes, tools, model patterns), none true for
# the fixture, so each one runs.
GLOBAL = [
    'headers["x-tier"] == "premium"',
    'tier == "haiku"',
    "input_tokens > 150000",
    '"web_search" in tools',
    "thinking && thinking_budget > 60000",
    'model.startsWith("gpt-")',
    'model.matches("^claude-opus-4-[0-9]+$")',
    "messages > 400",
    "max_tokens > 64000",
    'dialect == "responses"',
    'request_type == "chat" && stream',
    'headers["x-team"] in ["research", "infra"]',
    'session_id.startsWith("batch-")',
    'provider == "openai"',
    "size(tools) > 200",
    '"Agent" in tools && messages > 300',
    'params["temperature"] == 0.0 && messages > 100',
    'team_name == "nobody"',
    'customer_name == "acme" && input_tokens > 10000',
    "!stream && max_tokens < 10",
]
KEY = [
    'headers["x-route"] == "cheap"',
    "input_tokens > 180000",
    'tier == "opus" && thinking_budget > 50000',
    '"WebFetch" in tools && messages > 500',
    'model.endsWith("-batch")',
]


def spec(estimate: bool) -> dict[str, Any]:
    """``estimate``: the conditions as written; else each ``input_tokens`` swapped for ``max_tokens`` (no prompt
    estimate is then made: input_tokens is computed only for a key whose rules read it)."""
    swap = (lambda w: w) if estimate else (lambda w: w.replace("input_tokens", "max_tokens"))
    return {
        "version": 1,
        "providers": {"mock": {"type": "mock"}},
        "models": {"main": {"target": "mock/main"}, "other": {"target": "mock/other"}},
        "claude_code": {"sonnet": "main", "opus": "main", "haiku": "main"},
        "teams": {"core": {}},
        "virtual_keys": [
            {
                "name": "dev",
                "key_env": "BENCH_KEY",
                "team": "core",
                "rules": [{"name": f"k{i}", "when": swap(w), "route": "other"} for i, w in enumerate(KEY)],
            }
        ],
        "rules": [{"name": f"g{i}", "when": swap(w), "route": "other"} for i, w in enumerate(GLOBAL)],
    }


def per_call_us(fn: Any, number: int, repeat: int = 200) -> float:
    """The fastest of ``repeat`` short batches: a batch of a few ms fits in one scheduler slice, so on a loaded
    machine the minimum is a batch nobody preempted."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def measure(estimate: bool, number: int) -> dict[str, float]:
    os.environ["BENCH_KEY"] = "sk-bench-rules-key"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.yaml"
        path.write_text(yaml.safe_dump(spec(estimate), sort_keys=False))
        gateway = compile_spec(path, environ=dict(os.environ)).gateway
    assert gateway is not None and len(gateway.rules) == 25
    router = Router(gateway)
    capture = json.loads(FIXTURE.read_text())
    body = capture["body"]
    headers = Headers({k.lower(): v for k, v in capture["headers"].items() if k.lower() != "x-api-key"})
    dialect = next(d for d in DIALECTS if d.name == "anthropic")
    call = Inbound(body, {}, dialect.endpoints[0], headers=headers)
    chat = dialect.parse(call)
    key = KeyRing(gateway, {"BENCH_KEY": "sk-bench-rules-key"}).authenticate({"x-api-key": "sk-bench-rules-key"})
    ctx = RequestContext(dialect="anthropic", endpoint="messages", headers=headers)
    ctx.key, ctx.requested_model, ctx.session = key, str(body["model"]), dialect.session(call)
    rules = rules_for(gateway, key)
    wanted = reads(rules)
    assert len(rules) == 25 and ("input_tokens" in wanted) == estimate

    # pick_route runs the key's chain (runtime.rules.chain): these two halves of it, timed apart
    build = builder(frozenset().union(*map(names_read, rules)) - {"input_tokens"})
    match = matcher(rules)

    def facts() -> Any:
        return build(model=ctx.requested_model, chat=chat, body=body, dialect="anthropic", endpoint="messages",
                     headers=headers, key=key, session=ctx.session, providers=gateway.providers)  # fmt: skip

    built = facts()
    assert first_match(rules, built) is None and match(built, body) is None  # every condition is evaluated

    def whole() -> Any:
        assert not capacity_needed(router, key)  # no capacity variable: no store read
        return pick_route(router, ctx, chat, body)

    assert whole()[1] is None
    return {
        "pick_route (per request, all of it)": per_call_us(whole, number),
        "  variables (those read, but input_tokens)": per_call_us(facts, number),
        "  matcher (25 conditions; input_tokens)": per_call_us(lambda: match(built, body), number),
        "  first_match (the same, as a loop)": per_call_us(lambda: first_match(rules, built), number),
        "  Router.resolve (the model string's route)": per_call_us(lambda: router.resolve(ctx.requested_model), number),
        "  prompt_estimate (input_tokens) alone": per_call_us(lambda: prompt_estimate(body), number),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200, help="calls per batch (200 batches)")
    args = parser.parse_args()
    before = os.getloadavg()
    results = {flag: measure(flag, args.number) for flag in (False, True)}
    after = os.getloadavg()
    print(
        f"load average {before[0]:.2f} -> {after[0]:.2f}; each figure the fastest of 200 batches of {args.number} calls"
    )
    print(f"{'µs per request':<46} {'no input_tokens':>16} {'input_tokens':>14}")
    for name in results[False]:
        print(f"{name:<46} {results[False][name]:16.2f} {results[True][name]:14.2f}")


if __name__ == "__main__":
    main()
