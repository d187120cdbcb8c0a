"""claude_history and signatures: pure rules for history bound for Claude, and signature provenance."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bifrostc.runtime.translate import bedrock
from bifrostc.runtime.translate.claude_history import fit_for_claude, opens_without_thinking
from bifrostc.runtime.translate.signatures import mark, native
from bifrostc.runtime.types import ChatRequest, Message, TextPart, Thinking, ThinkingPart, ToolCallPart, ToolResultPart

TOOL_USE = {"type": "tool_use", "id": "t", "name": "Read", "input": {}}


@given(st.text(min_size=1))
def test_each_family_gets_back_exactly_what_it_issued(signature: str) -> None:
    assert native("gemini", mark("gemini", signature)) == signature
    assert native("claude", mark("gemini", signature)) is None
    if not signature.startswith("bfc:"):
        assert native("claude", mark("claude", signature)) == signature
        assert native("gemini", mark("claude", signature)) is None


def test_no_signature_belongs_to_anyone() -> None:
    assert native("claude", "") is None and native("claude", None) is None
    assert native("gemini", "bfc:gemini:") is None


def test_the_rule_looks_at_the_last_assistant_turn_only() -> None:
    assert opens_without_thinking([{"role": "assistant", "content": [TOOL_USE]}, {"role": "user", "content": []}])
    signed = {"type": "thinking", "thinking": "", "signature": "s"}
    assert not opens_without_thinking([{"role": "assistant", "content": [signed, TOOL_USE]}])
    assert not opens_without_thinking([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
    assert not opens_without_thinking([{"role": "user", "content": "hi"}])
    assert not opens_without_thinking([{"role": "assistant", "content": "plain string"}])


def test_fit_returns_the_same_object_when_nothing_needs_fixing() -> None:
    body = {"messages": [{"role": "assistant", "content": [TOOL_USE]}]}  # no thinking requested
    assert fit_for_claude(body) is body


def test_a_turn_of_only_foreign_thinking_disappears() -> None:
    body = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "thinking"}]}]}
    assert fit_for_claude(body)["messages"] == [{"role": "user", "content": "q"}]


def _loop(first: list) -> ChatRequest:
    return ChatRequest(
        model="m",
        messages=[
            Message("user", [TextPart("q")]),
            Message("assistant", [*first, ToolCallPart("t", "Read", "{}")]),
            Message("user", [ToolResultPart("t", [TextPart("r")])]),
        ],
        thinking=Thinking("enabled", 2048),
    )


def test_bedrock_converse_follows_the_same_rules_for_claude_models() -> None:
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    unsigned = bedrock.build_request(_loop([ThinkingPart("gpt thought")]), model=model)
    assert "thinking" not in unsigned.get("additionalModelRequestFields", {})
    assert [list(block) for block in unsigned["messages"][1]["content"]] == [["toolUse"]]
    gemini = bedrock.build_request(_loop([ThinkingPart("", signature="bfc:gemini:x")]), model=model)
    assert [list(block) for block in gemini["messages"][1]["content"]] == [["toolUse"]]
    signed = bedrock.build_request(_loop([ThinkingPart("mine", signature="U0lH")]), model=model)
    assert signed["additionalModelRequestFields"]["thinking"]["type"] == "enabled"
    assert signed["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]["signature"] == "U0lH"
