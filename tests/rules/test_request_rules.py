"""Each class of request rule, at the HTTP surface against the provider's refusing fake (issue 21 classes 1-5,
issue 11 items 1, 3 and 6): the fake answers the provider's documented 4xx when a rule is broken."""

from __future__ import annotations

import re
from typing import Any

from bifrostc.runtime import config

from .history import CALL_A, CALL_B, claude_history
from .rig import TARGETS, Target, rig

MISTRAL = TARGETS["mistral"]


def _openai_ids(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    calls = [c["id"] for m in body["messages"] if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    results = [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    return calls, results


# --- class 1: fields the gateway adds, to providers that refuse unknown fields --------------------------------
async def test_gateway_added_user_and_stream_options_never_reach_mistral() -> None:
    async with rig(MISTRAL) as gateway:
        response = await gateway.anthropic(claude_history())
        assert response.status_code == 200, response.text
        sent = gateway.script.bodies[-1]
        assert "user" not in sent and "stream_options" not in sent and "max_completion_tokens" not in sent
        # An OpenAI client's own extra fields, relayed as is (passthrough), are fitted too.
        chat = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "user": "u1", "seed": 7}
        relayed = await gateway.openai({**chat, "stream_options": {"include_usage": True}, "max_completion_tokens": 9})
        assert relayed.status_code == 200, relayed.text
        assert gateway.script.bodies[-1]["random_seed"] == 7 and gateway.script.bodies[-1]["max_tokens"] == 9
    assert gateway.script.refused == []


async def test_fields_cerebras_and_groq_refuse_are_not_relayed() -> None:
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    refused = {"cerebras": {"presence_penalty": 0.5, "parallel_tool_calls": True}, "groq": {"logprobs": True}}
    for name, fields in refused.items():
        async with rig(TARGETS[name]) as gateway:
            response = await gateway.openai({**chat, **fields})
        assert response.status_code == 200, (name, response.text)
        assert gateway.script.refused == [], name


async def test_a_stream_usage_option_turned_off_is_off_on_the_wire() -> None:
    target = Target("openai", "gpt-4o", config.OpenAIOptions(stream_usage=False))
    async with rig(target) as gateway:
        response = await gateway.anthropic(claude_history(thinking=False))
    assert response.status_code == 200
    assert "stream_options" not in gateway.script.bodies[-1]


# --- class 2: tool-call ids in the target's format, the same across turns and parallel calls ------------------
async def test_anthropic_ids_are_mapped_to_mistral_ids_consistently() -> None:
    async with rig(MISTRAL) as gateway:
        first = await gateway.anthropic(claude_history())
        again = await gateway.anthropic(claude_history(stream=False))
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    calls, results = _openai_ids(gateway.script.bodies[0])
    assert calls == results and len(set(calls)) == 2  # each call pairs with its result; parallel calls differ
    assert all(re.fullmatch(r"[a-zA-Z0-9]{9}", i) for i in calls)
    assert _openai_ids(gateway.script.bodies[1]) == (calls, results)  # the next turn maps them the same way
    assert gateway.script.refused == []


async def test_long_ids_fit_openai_and_foreign_ids_fit_bedrock() -> None:
    body = claude_history(thinking=False)
    long_id = "call_" + "x" * 45
    for block in body["messages"][1]["content"]:
        block["id"] = long_id if block["id"] == CALL_A else "functions.Read:1"
    results = body["messages"][2]["content"]
    results[0]["tool_use_id"], results[1]["tool_use_id"] = long_id, "functions.Read:1"
    for name in ("openai-chat", "bedrock-converse", "mistral"):
        async with rig(TARGETS[name]) as gateway:
            response = await gateway.anthropic(body)
        assert response.status_code == 200, (name, response.text)
        assert gateway.script.refused == [], name
    assert CALL_B  # the second id of the history is replaced above


# --- class 3: parameters only some models of a family take --------------------------------------------------
async def test_sampling_parameters_are_not_sent_to_openai_reasoning_models() -> None:
    async with rig(TARGETS["openai-o-series"]) as gateway:
        anthropic = await gateway.anthropic({**claude_history(thinking=False), "temperature": 0.5, "top_p": 0.9})
        chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, "temperature": 0.2}
        openai = await gateway.client.post("/v1/chat/completions", json={**chat, "model": "r"})
    assert (anthropic.status_code, openai.status_code) == (200, 200), (anthropic.text, openai.text)
    assert not {"temperature", "top_p"} & set(gateway.script.bodies[0])
    assert gateway.script.bodies[1]["max_completion_tokens"] == 100 and "temperature" not in gateway.script.bodies[1]


async def test_reasoning_effort_is_not_sent_to_openai_chat_models() -> None:
    async with rig(TARGETS["openai-chat"]) as gateway:
        response = await gateway.anthropic(claude_history())
    assert response.status_code == 200, response.text
    assert "reasoning_effort" not in gateway.script.bodies[-1]


# --- class 4: API version defaults new enough ---------------------------------------------------------------
async def test_the_azure_default_api_version_serves_reasoning_deployments() -> None:
    async with rig(TARGETS["azure-gpt-5"]) as gateway:
        response = await gateway.anthropic(claude_history())
    assert response.status_code == 200, response.text
    old = Target("azure", "o3", config.AzureOptions(api_version="2024-10-21"))
    async with rig(old) as gateway:  # an explicit old version is the user's choice: Azure's own 400 comes back
        refused = await gateway.anthropic(claude_history())
    assert refused.status_code == 400
    assert "enabled only for api versions 2025-04-01-preview and later" in refused.text


# --- class 5: Anthropic fields and betas per Anthropic-compatible host --------------------------------------
ANTHROPIC_ONLY = {
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "service_tier": "auto",
    "container": "container_1",
    "mcp_servers": [{"type": "url", "url": "https://mcp.example/sse", "name": "x"}],
    "tags": ["team-a"],
}


async def test_claude_hosts_are_sent_only_the_fields_they_accept() -> None:
    for name in ("bedrock-invoke", "vertex-claude"):
        async with rig(TARGETS[name]) as gateway:
            response = await gateway.anthropic({**claude_history(), **ANTHROPIC_ONLY})
        assert response.status_code == 200, (name, response.text)
        sent = gateway.script.bodies[-1]
        assert not set(ANTHROPIC_ONLY) & set(sent), (name, sorted(sent))
        assert gateway.script.refused == []


async def test_anthropic_itself_gets_every_field_and_beta() -> None:
    betas = "claude-code-20250219,context-management-2025-06-27"
    async with rig(TARGETS["anthropic"]) as gateway:
        response = await gateway.anthropic({**claude_history(), **ANTHROPIC_ONLY}, {"anthropic-beta": betas})
    assert response.status_code == 200, response.text
    assert set(ANTHROPIC_ONLY) <= set(gateway.script.bodies[-1])
    assert gateway.script.headers[-1]["anthropic-beta"] == betas


# --- issue 11 item 1: reasoning carried back where the provider needs it --------------------------------------
def _tool_call_reply(**extra: Any) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "Read", "arguments": '{"file_path": "/a"}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call], **extra}
    return {"id": "c1", "object": "chat.completion", "created": 1, "model": "up",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}  # fmt: skip


async def _two_turns(target: Target, reply: dict[str, Any]) -> tuple[Any, Any, list[dict[str, Any]]]:
    body = claude_history(stream=False)
    body["messages"] = [{"role": "user", "content": "read /a"}]
    async with rig(target) as gateway:
        gateway.script.reply = reply
        first = await gateway.anthropic(body)
        assert first.status_code == 200, first.text
        content = first.json()["content"]
        call = next(b for b in content if b["type"] == "tool_use")
        result = {"type": "tool_result", "tool_use_id": call["id"], "content": "alpha"}
        body["messages"] += [{"role": "assistant", "content": content}, {"role": "user", "content": [result]}]
        second = await gateway.anthropic(body)
    return first, second, gateway.script.bodies


async def test_deepseek_thinking_mode_gets_its_reasoning_content_back() -> None:
    reply = _tool_call_reply(reasoning_content="I will read /a.")
    _, second, bodies = await _two_turns(TARGETS["deepseek-thinking"], reply)
    assert second.status_code == 200, second.text
    assistant = next(m for m in bodies[-1]["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_content"] == "I will read /a."


async def test_openrouter_gets_its_reasoning_details_back_unchanged() -> None:
    details = [
        {"type": "reasoning.text", "text": "Reading.", "index": 0, "format": "google-gemini-v1"},
        {"type": "reasoning.encrypted", "data": "CiQB0e2Kb3", "index": 1, "format": "google-gemini-v1"},
    ]
    target = Target("openrouter", "google/gemini-3-pro-preview")
    first, second, bodies = await _two_turns(target, _tool_call_reply(reasoning="Reading.", reasoning_details=details))
    assert second.status_code == 200, second.text
    assert [b["type"] for b in first.json()["content"]] == ["thinking", "tool_use"]
    assistant = next(m for m in bodies[-1]["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"] == details


# --- issue 11 item 3: mid-conversation system turns folded, with an option to keep them ---------------------
async def test_system_turns_are_folded_for_chat_templates_and_kept_when_asked() -> None:
    async with rig(TARGETS["vllm-qwen"]) as gateway:
        folded = await gateway.anthropic(claude_history())
        chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}]}
        relayed = await gateway.openai(chat)
    assert (folded.status_code, relayed.status_code) == (200, 200), (folded.text, relayed.text)
    roles = [m["role"] for m in gateway.script.bodies[0]["messages"]]
    assert roles.count("system") == 1 and roles[0] == "system"
    assert "plan mode" in gateway.script.bodies[0]["messages"][0]["content"]
    keep = Target("vllm", "Qwen/Qwen3-Coder-30B-A3B-Instruct", config.OpenAIOptions(system_turns="keep"))
    async with rig(keep) as gateway:
        kept = await gateway.anthropic(claude_history())
    assert kept.status_code == 400 and "System message must be at the beginning." in kept.text


# --- fallback mid-conversation: a history that started on another family ------------------------------------
async def test_a_conversation_moves_between_families_mid_way() -> None:
    hops = [("anthropic", "mistral"), ("anthropic", "deepseek-thinking"), ("openai-chat", "gemini")]
    for first, then in hops:
        async with rig(TARGETS[then], fallback_from=TARGETS[first]) as gateway:
            response = await gateway.anthropic(claude_history())
        assert response.status_code == 200, (first, then, response.text)
        assert response.headers.get("x-bifrostc-fallback"), (first, then)
        assert gateway.script.refused == [], (first, then)


async def test_foreign_ids_in_a_claude_code_history_are_made_anthropic_safe() -> None:
    """A conversation that visited Kimi (ids like "functions.Read:0") falls back to Anthropic (passthrough)."""
    body = claude_history()
    for block in body["messages"][1]["content"][1:]:
        block["id"] = block["id"].replace("toolu_01", "functions.Read:")
    for block in body["messages"][2]["content"]:
        block["tool_use_id"] = block["tool_use_id"].replace("toolu_01", "functions.Read:")
    async with rig(TARGETS["anthropic"], fallback_from=TARGETS["vllm-qwen"]) as gateway:
        response = await gateway.anthropic(body)
    assert response.status_code == 200, response.text
    assert gateway.script.refused == []
