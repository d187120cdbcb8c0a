"""The usage cases of issue 9 "Done when": cached prompt tokens, reasoning tokens and no usage, written in each
family's own usage fields, are billed the same (what `after_call` receives).

Translated path: an Anthropic client on every family but Anthropic, an OpenAI client on Anthropic. Passthrough:
an OpenAI client on the OpenAI family, an Anthropic client on Anthropic (usage sniffed from relayed bytes).
"""

from __future__ import annotations

import pytest

from bifrostc.runtime.types import Usage

from .gateway import rig
from .wire import FAMILIES, Family, Tokens

CASES = {
    "cached": Tokens(prompt=1000, cached=800, output=50),
    "reasoning": Tokens(prompt=100, output=50, reasoning=30),
}
PASSTHROUGH = {"openai": "openai", "deepseek": "openai", "azure": "openai", "anthropic": "anthropic"}


def billed(tokens: Tokens | None, family: Family) -> tuple[int, int, int, int, int]:
    """(input, output, cache read, cache write, reasoning): input excludes cache reads; output includes reasoning."""
    if tokens is None:
        return (0, 0, 0, 0, 0)
    reasoning = tokens.reasoning if family.reports_reasoning else 0
    return (tokens.prompt - tokens.cached, tokens.output, tokens.cached, 0, reasoning)


def _as_tuple(usage: Usage | None) -> tuple[int, int, int, int, int]:
    usage = usage or Usage()
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )


def _params() -> list[object]:
    params = []
    for name, family in FAMILIES.items():
        for case in CASES:
            if case == "cached" and not family.reports_cache:
                continue
            for path in ("translated", "passthrough"):
                if path == "passthrough" and name not in PASSTHROUGH:
                    continue
                for stream in (False, True):
                    mode = "stream" if stream else "nonstream"
                    params.append(pytest.param(name, case, path, stream, id=f"{name}-{case}-{path}-{mode}"))
    return params


@pytest.mark.parametrize(("family_name", "case", "path", "stream"), _params())
async def test_same_usage_is_billed_the_same(family_name: str, case: str, path: str, stream: bool) -> None:
    family = FAMILIES[family_name]
    if path == "passthrough":
        dialect = PASSTHROUGH[family_name]
    else:
        dialect = "openai" if family_name == "anthropic" else "anthropic"
    async with rig(family) as gateway:
        gateway.script.tokens = CASES[case]
        seen = await gateway.call(dialect, "solo", stream=stream)
        assert seen.status == 200 and not seen.error_event
        assert [_as_tuple(u) for u in gateway.hooks.billed] == [billed(CASES[case], family)]


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize("path", ["translated", "passthrough"])
async def test_no_usage_is_billed_alike(path: str, stream: bool) -> None:
    """An upstream that reports no usage: every family served to the same client dialect bills the same: the
    gateway's own count of what it relayed (the answer's characters, the prompt's), flagged estimated."""
    billed_by: dict[str, dict[str, tuple[int, int, int, int, int]]] = {}
    for name, family in FAMILIES.items():
        if path == "passthrough":
            if name not in PASSTHROUGH:
                continue
            dialect = PASSTHROUGH[name]
        else:
            dialect = "openai" if name == "anthropic" else "anthropic"
        async with rig(family) as gateway:
            gateway.script.tokens = None
            seen = await gateway.call(dialect, "solo", stream=stream)
            assert seen.status == 200 and not seen.error_event
            (usage,) = gateway.hooks.billed
        billed_by.setdefault(dialect, {})[name] = _as_tuple(usage)
    for dialect, by_family in billed_by.items():
        assert len(set(by_family.values())) == 1, f"{dialect} client: {by_family}"
        (counted,) = set(by_family.values())
        assert counted[0] > 0 and counted[1] > 0, f"{dialect} client: nothing counted"
