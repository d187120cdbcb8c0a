"""A Responses body relayed to a model served on the Responses API (Codex's requests, store: false) goes upstream
as the client's own bytes with only the model replaced, as a relayed Anthropic body does
(transport/request_bytes.with_model); a body the gateway must change is serialized again, with the same meaning."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bifrostc.runtime.dialects.openai_responses import OpenAIResponses
from bifrostc.runtime.types import ChatRequest
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

KEY = "sk-bfc-codex-0123456789"
ENV = {"OPENAI_KEY": "sk-openai-upstream-0123456789"}
INSTRUCTIONS = "You are a coding agent — terse, précis."
CODEX = Path(__file__).resolve().parent.parent / "fixtures" / "codex" / "first-turn-1.json"  # what Codex sent


def _codex_bytes(**fields: Any) -> bytes:
    """A first turn as Codex writes it (`model` first, `store: false`, UTF-8 as is), with the spaces Python's json
    puts in: bytes the gateway's own serializer would not write."""
    body = {
        "model": "codex",
        "stream": False,
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": INSTRUCTIONS}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]},
        ],
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}}],
        "store": False,
        **fields,
    }
    return json.dumps(body, ensure_ascii=False).encode()


async def responses_api(request: httpx.Request) -> httpx.Response:
    """The Responses API's answer; its 400 for an input that is not a list of items. (Chat Completions, for the
    route a Responses client reaches through the translators.)"""
    body = orjson.loads(request.content)
    if request.url.path.endswith("/chat/completions"):
        return httpx.Response(200, json=openai_completion("Two files.", body["model"]))
    if not isinstance(body.get("input"), list) or not all(isinstance(item, dict) for item in body["input"]):
        error = {"message": "Invalid type for 'input'.", "type": "invalid_request_error", "param": "input"}
        return httpx.Response(400, json={"error": error})
    text = {"type": "output_text", "text": "Two files.", "annotations": []}
    message = {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant", "content": [text]}
    answer = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": body["model"]}
    usage = {"input_tokens": 20, "output_tokens": 3, "total_tokens": 23}
    return httpx.Response(200, json={**answer, "output": [message], "usage": usage})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Wired, FakeUpstreams]]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"]["oai"] = {"type": "openai", "base_url": "http://oai.test/v1", "api_key_env": "OPENAI_KEY"}
    spec["models"]["codex"] = {"target": "oai/gpt-5-codex"}  # a Responses-only model: relayed on that API
    spec["models"]["chat"] = {"target": "oai/gpt-4.1"}  # a Chat Completions model: translated
    spec["virtual_keys"] = [{"name": "dev", "key_sha256": sha256(KEY)}]
    upstreams = FakeUpstreams(**{"oai.test": responses_api})
    async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV, transport=upstreams.transport()) as wired:
        yield wired, upstreams


async def _post(wired: Wired, content: bytes) -> httpx.Response:
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    return await wired.http.post(f"{wired.url}/v1/responses", headers=headers, content=content)


async def test_a_relayed_codex_body_goes_upstream_as_its_own_bytes_with_only_the_model_changed(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    wired, upstreams = served
    sent = _codex_bytes()
    reply = await _post(wired, sent)
    assert reply.status_code == 200, reply.text
    assert reply.json()["model"] == "codex"
    (received,) = upstreams.sent_to("oai.test")
    assert received.url.path == "/v1/responses"
    assert received.content == sent.replace(b'{"model": "codex"', b'{"model": "gpt-5-codex"', 1)


async def test_a_body_the_gateway_fits_is_serialized_again_with_the_same_meaning(
    served: tuple[Wired, FakeUpstreams],
) -> None:
    wired, upstreams = served
    sent = _codex_bytes(max_output_tokens=1)  # a probe's budget: raised to the API's floor of 16
    reply = await _post(wired, sent)
    assert reply.status_code == 200, reply.text
    (received,) = upstreams.sent_to("oai.test")
    assert received.content != sent
    assert orjson.loads(received.content) == {**orjson.loads(sent), "model": "gpt-5-codex", "max_output_tokens": 16}


def _for_route(raw: bytes, model: str) -> bytes:
    """The captured body for the gateway's ``model`` route, unstreamed."""
    return orjson.dumps({**orjson.loads(raw), "model": model, "stream": False})


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[ChatRequest]:
    """Each Responses request the gateway parsed."""
    return spy_on_parses(monkeypatch, OpenAIResponses)


def _tools(parsed: list[ChatRequest]) -> list[tuple[int, int]]:
    """(canonical tools, tools left unparsed) of each."""
    return [(len(chat.tools), chat.tools_omitted) for chat in parsed]


async def test_a_relayed_codex_turn_leaves_its_tools_unparsed_and_logs_like_the_translated_path(
    served: tuple[Wired, FakeUpstreams], parsed: list[ChatRequest]
) -> None:
    """Codex's own first turn (functions, a namespace of sub-agent tools, a hosted web search): the relayed row
    counts the tools the translators' parse makes (the namespace's flattened, the hosted one not) and logs the
    same messages."""
    wired, upstreams = served
    captured = CODEX.read_bytes()
    for model in ("codex", "chat"):
        reply = await _post(wired, _for_route(captured, model))
        assert reply.status_code == 200, reply.text
    relayed, translated = upstreams.sent_to("oai.test")
    assert relayed.url.path == "/v1/responses" and translated.url.path == "/v1/chat/completions"
    by_route = {r.route: r for r in await wired.waiter.wait_for(2)}
    relayed_row, translated_row = by_route["codex"], by_route["chat"]
    assert relayed_row.request_messages[1:] == translated_row.request_messages[1:]
    assert translated_row.request_messages[0] == {"role": "system", "logged_with": relayed_row.id}  # the same prompt
    tools = orjson.loads(captured)["tools"]
    inner = [t for tool in tools if tool["type"] == "namespace" for t in tool["tools"]]
    expected = sum(tool["type"] in ("function", "custom") for tool in [*tools, *inner])
    assert relayed_row.tools_count == translated_row.tools_count == expected
    assert len(translated_tools := orjson.loads(translated.content)["tools"]) == expected, translated_tools
    assert _tools(parsed) == [(0, expected), (expected, 0)]


async def test_a_namespace_whose_flat_name_is_taken_is_parsed_whole(
    served: tuple[Wired, FakeUpstreams], parsed: list[ChatRequest]
) -> None:
    """The table shortens a namespaced name a top-level tool holds: a parse without the tools could not name that
    namespace's calls as the table does, so the request is parsed whole (its log row still counts every tool)."""
    wired, _ = served
    inner = {"type": "function", "name": "close", "parameters": {"type": "object", "properties": {}}}
    tools = [
        {"type": "function", "name": "agents__close", "parameters": {"type": "object", "properties": {}}},
        {"type": "namespace", "name": "agents", "description": "Sub-agents.", "tools": [inner]},
    ]
    reply = await _post(wired, _codex_bytes(tools=tools))
    assert reply.status_code == 200, reply.text
    (row,) = await wired.waiter.wait_for(1)
    assert row.tools_count == 2
    assert _tools(parsed) == [(2, 0)]


def _later_turn(loops: int) -> bytes:
    """Codex's first turn and `loops` tool loops after it (reasoning, a shell call, its output), as its later
    turns carry them: the new turn is the last output."""
    body = orjson.loads(CODEX.read_bytes())
    for n in range(loops):
        body["input"] += [
            {"type": "reasoning", "id": f"rs_{n}", "summary": [{"type": "summary_text", "text": f"Step {n}."}]},
            {"type": "function_call", "call_id": f"call_{n}", "name": "shell", "arguments": '{"command": ["ls"]}'},
            {"type": "function_call_output", "call_id": f"call_{n}", "output": f"file_{n}.py"},
        ]
    return orjson.dumps(body)


async def test_a_later_codex_turn_parses_only_its_new_items_and_logs_like_the_translated_path(
    served: tuple[Wired, FakeUpstreams], parsed: list[ChatRequest]
) -> None:
    """Its earlier items are relayed unparsed (the parse sees the developer messages and the last output); the
    row is the one the whole parse gives (the same new turn, the same count of earlier messages)."""
    wired, upstreams = served
    captured = _later_turn(5)
    for model in ("codex", "chat"):
        reply = await _post(wired, _for_route(captured, model))
        assert reply.status_code == 200, reply.text
    relayed, _ = upstreams.sent_to("oai.test")
    assert orjson.loads(relayed.content)["input"] == orjson.loads(captured)["input"]
    by_route = {r.route: r for r in await wired.waiter.wait_for(2)}
    relayed_row, translated_row = by_route["codex"], by_route["chat"]
    assert relayed_row.request_messages[1:] == translated_row.request_messages[1:]
    assert relayed_row.request_messages[0] == {
        "omitted": "11 earlier messages and the system prompt, logged with earlier turns"
    }  # the user's two messages, five assistant turns and the outputs of the first four
    relayed_parse, whole_parse = parsed
    assert [m.role for m in relayed_parse.messages] == ["user"]
    assert relayed_parse.history_omitted == 11 and whole_parse.history_omitted == 0
    assert relayed_parse.system == whole_parse.system and len(whole_parse.messages) == 12
