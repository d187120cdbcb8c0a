"""The pure rule functions on any input (hypothesis), and the fitted bodies as snapshots."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion

from bifrostc.runtime.providers import rules
from bifrostc.runtime.translate import reasoning_details
from bifrostc.runtime.types import ChatRequest, Message, TextPart, ToolCallPart, ToolResultPart

from .history import claude_history
from .rig import TARGETS, rig

IDS = st.text(min_size=1, max_size=80)
RULES = st.sampled_from([rules.MISTRAL_IDS, rules.OPENAI_IDS, rules.BEDROCK_IDS, rules.ANTHROPIC_IDS])


@given(RULES, IDS)
def test_a_fitted_id_always_fits_and_never_changes_one_that_does(rule: rules.IdRule, tool_id: str) -> None:
    fitted = rules.fit_tool_id(rule, tool_id)
    assert rule.accepts(fitted)
    assert rules.fit_tool_id(rule, tool_id) == fitted  # stable: every turn maps it the same way
    assert rules.fit_tool_id(rule, fitted) == fitted
    if rule.accepts(tool_id):
        assert fitted == tool_id


@given(st.lists(IDS, min_size=2, max_size=8, unique=True))
def test_parallel_calls_keep_distinct_ids(ids: list[str]) -> None:
    fitted = {rules.fit_tool_id(rules.MISTRAL_IDS, i) for i in ids if not rules.MISTRAL_IDS.accepts(i)}
    assert len(fitted) == len([i for i in ids if not rules.MISTRAL_IDS.accepts(i)])


@given(st.lists(st.sampled_from([*sorted(rules.BEDROCK_BETAS), "claude-code-20250219", "oauth-2025-04-20"])))
def test_betas_are_filtered_to_the_hosts_list_in_order(betas: list[str]) -> None:
    kept = rules.filter_betas(rules.BEDROCK, ",".join(betas))
    assert kept == [b for b in betas if b in rules.BEDROCK_BETAS]
    assert rules.filter_betas(rules.ANTHROPIC, betas) == betas


@given(st.lists(st.tuples(st.sampled_from(["user", "assistant", "system"]), st.text(min_size=1)), max_size=6))
def test_folding_keeps_every_system_text_in_order_and_no_system_turn(turns: list[tuple[str, str]]) -> None:
    req = ChatRequest(model="m", messages=[Message(role, [TextPart(text)]) for role, text in turns])  # type: ignore[arg-type]
    fitted = rules.fit_request(rules.COMPAT, req)
    assert all(m.role != "system" for m in fitted.messages)
    assert [p.text for p in fitted.system] == [text for role, text in turns if role == "system"]


def test_a_call_and_its_result_map_to_the_same_id() -> None:
    call = Message(
        "assistant", [ToolCallPart("toolu_01X", "Read", "{}"), ToolCallPart("functions.Read:1", "Read", "{}")]
    )
    result = Message("user", [ToolResultPart("toolu_01X", []), ToolResultPart("functions.Read:1", [])])
    fitted = rules.fit_request(rules.MISTRAL, ChatRequest(model="m", messages=[call, result]))
    calls = [p.id for p in fitted.messages[0].content if isinstance(p, ToolCallPart)]
    results = [p.tool_call_id for p in fitted.messages[1].content if isinstance(p, ToolResultPart)]
    assert calls == results and all(re.fullmatch(r"[a-zA-Z0-9]{9}", i) for i in calls)


_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
_BLOCK = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["tool_use", "tool_result", "text", 7]), "id": IDS | _JSON_LEAF}),
    st.fixed_dictionaries({"type": st.just("tool_result"), "tool_use_id": IDS | _JSON_LEAF}),
    _JSON_LEAF,
)
_HISTORY = st.lists(
    st.one_of(
        st.fixed_dictionaries({"role": st.just("user"), "content": st.lists(_BLOCK, max_size=4) | _JSON_LEAF}),
        _JSON_LEAF,
    ),
    max_size=6,
)


@given(RULES, _HISTORY)
def test_an_anthropic_body_is_relayed_as_is_exactly_when_every_id_fits(
    rule: rules.IdRule, messages: list[object]
) -> None:
    """Any relayed history (its blocks may be any JSON value): untouched when every id fits, else every id fitted."""
    body: dict[str, object] = {"messages": messages}
    fitted = rules.fit_anthropic_ids(rule, body)
    assert (fitted is body) == all(rule.accepts(i) for i in _tool_ids(messages))
    assert all(rule.accepts(i) for i in _tool_ids(fitted["messages"]))  # type: ignore[arg-type]


def _tool_ids(messages: list[object]) -> list[str]:
    """The string ids of a history's tool_use and tool_result blocks, whatever else it holds."""
    keys = {"tool_use": "id", "tool_result": "tool_use_id"}
    blocks = [b for m in messages if isinstance(m, dict) and isinstance(m.get("content"), list) for b in m["content"]]
    found = [b.get(keys.get(b.get("type"), "")) for b in blocks if isinstance(b, dict) and b.get("type") in keys]
    return [i for i in found if isinstance(i, str)]


async def test_fitted_bodies(snapshot: SnapshotAssertion) -> None:
    """What Mistral, DeepSeek, Bedrock InvokeModel and Claude on Vertex are sent for the same Claude history."""
    sent = {}
    for name in ("mistral", "deepseek-thinking", "bedrock-invoke", "vertex-claude"):
        async with rig(TARGETS[name]) as gateway:
            await gateway.anthropic({**claude_history(), "context_management": {"edits": []}, "service_tier": "auto"})
        sent[name] = gateway.script.bodies[-1]
    assert sent == snapshot


TEXT_FRAGMENTS = st.lists(st.text(max_size=5), min_size=1, max_size=6)


@given(TEXT_FRAGMENTS)
def test_streamed_reasoning_details_merge_into_what_openrouter_sent_whole(pieces: list[str]) -> None:
    details: list[dict[str, object]] = []
    for piece in pieces:
        reasoning_details.merge(details, [{"type": "reasoning.text", "text": piece, "index": 0}])
    reasoning_details.merge(details, [{"type": "reasoning.encrypted", "data": "CiQB", "index": 1}])
    assert details == [
        {"type": "reasoning.text", "text": "".join(pieces), "index": 0},
        {"type": "reasoning.encrypted", "data": "CiQB", "index": 1},
    ]
    assert reasoning_details.from_signature(reasoning_details.to_signature(details)) == details  # type: ignore[arg-type]
    assert reasoning_details.from_signature("EqQBCkYIBxgCKkA") is None  # a Claude signature is not OpenRouter's
