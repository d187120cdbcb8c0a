"""The CEL -> Python translation agrees with cel-python's own evaluator on generated conditions and variables."""

from __future__ import annotations

import re
from typing import Any

import celpy
from hypothesis import given, settings
from hypothesis import strategies as st

from bifrostc.compiler.rules_cel import compile_condition
from bifrostc.runtime.rules import RuleVars

INTS = ("input_tokens", "max_tokens", "messages", "thinking_budget")
BOOLS = ("stream", "thinking")
STRINGS = ("model", "tier", "dialect")

ints = st.one_of(st.sampled_from(INTS), st.integers(-5, 70000).map(str))
strings = st.one_of(st.sampled_from(STRINGS), st.sampled_from(['"sonnet"', '"claude-x"', '"openai"', '""']))


def _arith(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")


int_exprs = st.recursive(ints, _arith, max_leaves=4)
comparisons = st.one_of(
    st.tuples(int_exprs, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), int_exprs).map(" ".join),
    st.tuples(strings, st.sampled_from(["==", "!="]), strings).map(" ".join),
    st.tuples(strings, st.sampled_from(["startsWith", "endsWith", "contains"]), strings).map(
        lambda t: f"{t[0]}.{t[1]}({t[2]})"
    ),
    st.sampled_from(BOOLS),
    st.sampled_from(['"Read" in tools', '"x-tier" in headers', 'headers["x-tier"] == "gold"', "size(tools) > 1"]),
)


def _logic(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["&&", "||"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    return st.one_of(binary, children.map(lambda c: f"!({c})"))


conditions = st.recursive(comparisons, _logic, max_leaves=5)
variables = st.builds(
    RuleVars,
    model=st.sampled_from(["sonnet", "claude-x", "gpt-5", ""]),
    tier=st.sampled_from(["sonnet", "haiku", ""]),
    dialect=st.sampled_from(["anthropic", "openai"]),
    stream=st.booleans(),
    thinking=st.booleans(),
    input_tokens=st.integers(0, 100000),
    max_tokens=st.integers(0, 9000),
    messages=st.integers(0, 50),
    thinking_budget=st.integers(0, 4000),
    tools=st.lists(st.sampled_from(["Read", "Write", "web_search"]), max_size=3).map(tuple),
    headers=st.sampled_from([{}, {"x-tier": "gold"}, {"x-tier": "silver"}]),
)


def _celpy(source: str, v: RuleVars) -> Any:
    env = celpy.Environment()
    activation = {name: celpy.json_to_cel(getattr(v, name)) for name in (*INTS, *BOOLS, *STRINGS)}
    activation["tools"] = celpy.json_to_cel(list(v.tools))
    activation["headers"] = celpy.json_to_cel(dict(v.headers))
    return env.program(env.compile(source)).evaluate(activation)


@settings(max_examples=150, deadline=None)
@given(conditions, variables)
def test_the_generated_python_decides_like_cel(source: str, v: RuleVars) -> None:
    compiled = compile_condition(source)
    ours = eval(compiled.python, {"_re": re, "v": v})
    if "headers[" in source and "x-tier" not in v.headers:
        return  # CEL errors on a missing key; the gateway reads a missing header as "" by design
    assert bool(ours) == bool(_celpy(source, v)), compiled.python
