"""A relayed conversation is not parsed into canonical objects (runtime/handlers/relay_parse.py): the upstream still
gets the client's whole history, the request log still says what the turn added, exactly as it does for the same
conversation served through the translators, and whatever needs the whole history still gets it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from tests.integration.wired import (
    FakeUpstreams,
    Wired,
    base_spec,
    compile_gateway,
    openai_completion,
    sha256,
    spy_on_parses,
    wired_server,
)

KEY = "sk-bfc-relayed-0123456789"
ENV = {"CLAUDE_KEY": "sk-ant-upstream-0123456789", "OPENAI_KEY": "sk-openai-upstream-0123456789"}

HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "Fix the failing test."},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Reading it."},
            {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "t.py"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "assert 1 == 2"},
            {"type": "text", "text": "That is the file."},
        ],
    },
]
TOOLS: list[dict[str, Any]] = [
    {"name": "Read", "description": "Reads a file.", "input_schema": {"type": "object", "properties": {}}},
    {"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
]
BODY = {"max_tokens": 64, "system": "You are terse.", "messages": HISTORY, "tools": TOOLS}


def _claude_message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Fixed."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 30, "output_tokens": 2},
    }


def _valid_block(block: Any) -> bool:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return False
    return block["type"] != "thinking" or isinstance(block.get("signature"), str)


def _valid_tool(tool: Any) -> bool:
    """A custom tool has a string name and an object input_schema; a server tool (a dated type) its own fields."""
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
        return isinstance(tool, dict)
    return isinstance(tool.get("name"), str) and isinstance(tool.get("input_schema"), dict)


async def claude(request: httpx.Request) -> httpx.Response:
    """The Messages API's 400 for a malformed conversation (every block an object with a string type; a thinking
    block's signature a string) or tool list, else a short answer."""
    body = orjson.loads(request.content)
    bad_tool = next((i for i, tool in enumerate(body.get("tools") or []) if not _valid_tool(tool)), None)
    if bad_tool is not None:
        error = {"type": "invalid_request_error", "message": f"tools.{bad_tool}.custom.name: Field required"}
        return httpx.Response(400, json={"type": "error", "error": error})
    messages = body.get("messages")
    valid = isinstance(messages, list) and bool(messages)
    for message in messages if valid else []:
        content = message.get("content") if isinstance(message, dict) else None
        valid = valid and (isinstance(content, str) or (isinstance(content, list) and all(map(_valid_block, content))))
    if not valid:
        error = {"type": "invalid_request_error", "message": "messages: malformed content block"}
        return httpx.Response(400, json={"type": "error", "error": error})
    return httpx.Response(200, json=_claude_message(body["model"]))


async def uncounted(request: httpx.Request) -> httpx.Response:
    message = _claude_message(orjson.loads(request.content)["model"])
    del message["usage"]
    return httpx.Response(200, json=message)


async def openai_upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=openai_completion("Fixed.", orjson.loads(request.content)["model"]))


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Wired, FakeUpstreams]]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"]["claude"] = {"type": "anthropic", "base_url": "http://claude.test", "api_key_env": "CLAUDE_KEY"}
    spec["providers"]["oai"] = {"type": "openai", "base_url": "http://oai.test/v1", "api_key_env": "OPENAI_KEY"}
    spec["models"]["sonnet"] = {"target": "claude/claude-sonnet-4-5"}  # relayed: the client's dialect
    spec["models"]["gpt"] = {"target": "oai/gpt-5"}  # translated
    spec["models"]["sonnet-then-gpt"] = {"target": "claude/claude-sonnet-4-5", "fallbacks": ["gpt"]}
    # An Anthropic-compatible host that counts nothing: the bill estimates the prompt from the client's body.
    spec["providers"]["uncounted"] = {
        "type": "anthropic",
        "base_url": "http://uncounted.test",
        "api_key_env": "CLAUDE_KEY",
    }
    spec["models"]["sonnet-uncounted"] = {"target": "uncounted/claude-sonnet-4-5"}
    spec["virtual_keys"] = [{"name": "dev", "key_sha256": sha256(KEY)}]
    upstreams = FakeUpstreams(**{"claude.test": claude, "oai.test": openai_upstream, "uncounted.test": uncounted})
    async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV, transport=upstreams.transport()) as wired:
        yield wired, upstreams


async def test_relayed_history_reaches_upstream_whole_and_logs_like_the_translated_path(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    wired, upstreams = served
    client = wired.anthropic(KEY)
    relayed = await client.messages.create(model="sonnet", **BODY)
    translated = await client.messages.create(model="gpt", **BODY)
    assert relayed.content[0].text == translated.content[0].text == "Fixed."
    (sent,) = upstreams.sent_to("claude.test")
    assert orjson.loads(sent.content)["messages"] == HISTORY  # the whole conversation, as the client sent it
    assert orjson.loads(sent.content)["tools"] == TOOLS
    by_route = {r.route: r for r in await wired.waiter.wait_for(2)}
    relayed_log, translated_log = by_route["sonnet"], by_route["gpt"]
    assert relayed_log.request_messages == translated_log.request_messages
    assert relayed_log.request_messages[0] == {
        "omitted": "2 earlier messages and the system prompt, logged with earlier turns"
    }
    assert len(relayed_log.request_messages) == 2  # the omission, then the one message this turn added
    assert (relayed_log.tools_count, relayed_log.max_tokens) == (translated_log.tools_count, 64) == (2, 64)


async def test_a_route_that_may_fall_back_to_a_translator_parses_the_whole_history(
    served: tuple[Wired, FakeUpstreams], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback would translate the canonical request: it must hold every message."""
    wired, _ = served
    from bifrostc.runtime.dialects.anthropic_messages import AnthropicMessages

    parsed = spy_on_parses(monkeypatch, AnthropicMessages)
    client = wired.anthropic(KEY)
    await client.messages.create(model="sonnet-then-gpt", **BODY)
    await client.messages.create(model="sonnet", **BODY)
    assert [(len(c.messages), c.history_omitted, len(c.tools), c.tools_omitted) for c in parsed] == [
        (3, 0, 2, 0),
        (1, 2, 0, 2),
    ]


async def test_a_first_turn_relays_its_tools_unparsed_and_logs_their_count(
    served: tuple[Wired, FakeUpstreams], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Claude Code first turn (one message, a dozen tools): the tools reach the upstream as sent and the log
    counts the custom ones (a server tool is not a canonical tool, on either path)."""
    wired, upstreams = served
    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    client = wired.anthropic(KEY)
    await client.messages.create(
        model="sonnet", max_tokens=64, messages=[{"role": "user", "content": "hi"}], tools=[*TOOLS, web_search]
    )
    (sent,) = upstreams.sent_to("claude.test")
    assert orjson.loads(sent.content)["tools"] == [*TOOLS, web_search]
    (row,) = await wired.waiter.wait_for(1)
    assert row.tools_count == 2


async def test_a_malformed_relayed_tool_is_the_upstreams_400_and_a_tool_list_that_is_not_one_the_gateways(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    wired, upstreams = served
    client = wired.anthropic(KEY)
    nameless = {"input_schema": {"type": "object"}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model="sonnet", **{**BODY, "tools": [TOOLS[0], nameless]})
    assert "tools.1.custom.name: Field required" in str(caught.value)
    assert orjson.loads(upstreams.sent_to("claude.test")[0].content)["tools"] == [TOOLS[0], nameless]
    for broken in ([TOOLS[0], "Bash"], {"name": "Read"}):
        reply = await wired.http.post(
            f"{wired.url}/anthropic/v1/messages",
            headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
            json={**BODY, "model": "sonnet", "tools": broken},
        )
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["type"] == "invalid_request_error"
        assert "tools" in reply.json()["error"]["message"]
    assert len(upstreams.sent_to("claude.test")) == 1  # the gateway refused those two itself


async def test_a_malformed_earlier_turn_is_relayed_for_the_upstream_to_refuse(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    """Earlier turns are not validated by the gateway when it relays them; the provider request rules that read
    them (Claude's history fitting, the tool-id check) take any JSON there, and the client gets Claude's 400."""
    wired, upstreams = served
    broken = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": 5}, {"type": ["x"]}]},
        {"role": "user", "content": "again"},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await wired.anthropic(KEY).messages.create(
            model="sonnet", max_tokens=64, messages=broken, thinking={"type": "enabled", "budget_tokens": 1024}
        )
    assert caught.value.status_code == 400
    assert "malformed content block" in str(caught.value)
    (sent,) = upstreams.sent_to("claude.test")
    assert orjson.loads(sent.content)["messages"] == broken


async def test_an_openai_chat_request_relays_its_tools_unparsed_and_logs_the_function_count(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    wired, upstreams = served
    functions = [
        {"type": "function", "function": {"name": "read", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "bash", "description": "Runs a command."}},
    ]
    grammar = {"type": "custom", "custom": {"name": "patch", "format": {"type": "text"}}}
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Fix it."},
        {"role": "assistant", "content": "Which file?"},
        {"role": "user", "content": "t.py"},
    ]
    reply = await wired.http.post(
        f"{wired.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "gpt", "messages": messages, "tools": [*functions, grammar]},
    )
    assert reply.status_code == 200, reply.text
    (sent,) = upstreams.sent_to("oai.test")
    assert orjson.loads(sent.content)["tools"] == [*functions, grammar]
    assert orjson.loads(sent.content)["messages"] == messages
    (row,) = await wired.waiter.wait_for(1)
    assert row.tools_count == 2
    assert row.request_messages == [
        {"omitted": "3 earlier messages and the system prompt, logged with earlier turns"},
        {"role": "user", "content": [{"text": "t.py", "cache_control": None}]},
    ]


def _claude_code_bytes(messages: list[dict[str, Any]], **fields: Any) -> bytes:
    """A body as Claude Code writes it (`model` first, UTF-8 as is, an Agent tool with a `model` property), with
    the spaces Python's json puts in: bytes the gateway's own serializer would not write."""
    agent = {
        "name": "Agent",
        "description": "Launches a subagent — pick its model.",
        "input_schema": {"type": "object", "properties": {"model": {"type": "string", "enum": ["sonnet", "haiku"]}}},
    }
    body = {"model": "sonnet", "messages": messages, "system": "You are terse — très.", "tools": [agent], **fields}
    return json.dumps({**body, "max_tokens": 64}, ensure_ascii=False).encode()


async def _post_raw(wired: Wired, content: bytes) -> httpx.Response:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    return await wired.http.post(f"{wired.url}/anthropic/v1/messages", headers=headers, content=content)


async def test_a_relayed_claude_code_body_goes_upstream_as_its_own_bytes_with_only_the_model_changed(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    wired, upstreams = served
    sent = _claude_code_bytes(HISTORY)
    reply = await _post_raw(wired, sent)
    assert reply.status_code == 200, reply.text
    (received,) = upstreams.sent_to("claude.test")
    assert received.content == sent.replace(b'{"model": "sonnet"', b'{"model": "claude-sonnet-4-5"', 1)


async def test_a_body_whose_model_key_is_not_certain_is_serialized_again_with_the_same_meaning(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    """A second string-valued "model" (here an earlier Agent call's input; a duplicate key would look the same)
    or "model" not first: the body is re-serialized, and upstream reads the routed model everywhere it should."""
    wired, upstreams = served
    call = {"type": "tool_use", "id": "toolu_02", "name": "Agent", "input": {"model": "haiku"}}
    history = [HISTORY[0], {"role": "assistant", "content": [call]}, HISTORY[2]]
    history[2] = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_02", "content": "ok"}]}
    later_key = orjson.dumps({"max_tokens": 64, "messages": HISTORY, "model": "sonnet"})
    for content in (_claude_code_bytes(history), later_key):
        reply = await _post_raw(wired, content)
        assert reply.status_code == 200, reply.text
    for received, content in zip(
        upstreams.sent_to("claude.test"), (_claude_code_bytes(history), later_key), strict=True
    ):
        assert received.content != content
        assert orjson.loads(received.content) == {**orjson.loads(content), "model": "claude-sonnet-4-5"}


DEEP = b"[" * 300 + b'"x"' + b"]" * 300  # orjson reads 1,024 levels and writes 254


async def test_nesting_is_checked_where_the_gateway_serializes_and_left_to_the_upstream_elsewhere(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    """A relayed earlier turn 300 levels deep goes upstream as sent (the gateway never serializes it again); the
    same depth in the new turn, which the log keeps, or in a body that must be serialized again, is a 400."""
    wired, upstreams = served
    deep_call = {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"path": "DEEP"}}
    deep_history = [HISTORY[0], {"role": "assistant", "content": [deep_call]}, HISTORY[2]]
    sent = _claude_code_bytes(deep_history).replace(b'"DEEP"', DEEP)
    reply = await _post_raw(wired, sent)
    assert reply.status_code == 200, reply.text
    (received,) = upstreams.sent_to("claude.test")
    assert received.content == sent.replace(b'{"model": "sonnet"', b'{"model": "claude-sonnet-4-5"', 1)
    deep_turn = [*HISTORY[:2], {"role": "user", "content": [HISTORY[2]["content"][0], deep_call]}]
    for content in (
        _claude_code_bytes(deep_turn),  # the new turn: the log would fail to write it
        _claude_code_bytes(HISTORY, system=[{"type": "text", "text": "x", "cache_control": {"ttl": "DEEP"}}]),
        orjson.dumps({"max_tokens": 64, "messages": deep_history, "model": "sonnet"}),  # not model-first
    ):
        reply = await _post_raw(wired, content.replace(b'"DEEP"', DEEP))
        assert reply.status_code == 400, reply.text
        assert "nested deeper than 254 levels" in reply.json()["error"]["message"]
    assert len(upstreams.sent_to("claude.test")) == 1


async def test_a_relayed_body_too_deep_to_serialize_is_billed_from_an_estimate_when_the_upstream_counts_nothing(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    wired, upstreams = served
    deep_call = {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"path": "DEEP"}}
    deep_history = [HISTORY[0], {"role": "assistant", "content": [deep_call]}, HISTORY[2]]
    sent = _claude_code_bytes(deep_history).replace(b'"model": "sonnet"', b'"model": "sonnet-uncounted"', 1)
    reply = await _post_raw(wired, sent.replace(b'"DEEP"', DEEP))
    assert reply.status_code == 200, reply.text
    assert len(upstreams.sent_to("uncounted.test")) == 1
    (row,) = await wired.waiter.wait_for(1)
    assert (row.status, row.usage_estimated) == (200, True)
    assert row.input_tokens > 0
