"""A fake Anthropic Messages upstream with one tool (`weather`), for multi-turn tests of stored Responses.

It keeps Anthropic's documented rules (`tests/conformance/refusals.py` for ids; every `tool_result` must answer
a `tool_use` of the message before it, else the documented 400) and answers from the whole conversation it was
sent, so a test sees whether the gateway rebuilt the history from stored state:
- a last user turn holding a tool result: "It is <forecast> in <city>.";
- a last user text asking about the weather, with the tool offered: a `tool_use` of `weather`;
- anything else: "You first asked: <first user text> | I last said: <last assistant text>".
Streams (`"stream": true`) carry the same answer as Anthropic's SSE events.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conformance.refusals import refusal

HOST = "weather.test"


def _texts(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    return [block["text"] for block in content or [] if block.get("type") == "text"]


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if b.get("type") == kind] if isinstance(content, list) else []


def _unanswered(body: dict[str, Any]) -> str | None:
    """Anthropic's 400 for a tool_result whose tool_use is not in the previous message."""
    messages = body.get("messages") or []
    for i, message in enumerate(messages):
        results = _blocks(message, "tool_result")
        if not results:
            continue
        calls = {b["id"] for b in _blocks(messages[i - 1], "tool_use")} if i else set()
        for block in results:
            if block["tool_use_id"] not in calls:
                return (
                    f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block['tool_use_id']}. Each `tool_result` block must have a corresponding `tool_use` block "
                    "in the previous message."
                )
    return None


def answer(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body["messages"]
    last = messages[-1]
    results = _blocks(last, "tool_result")
    if results:
        content = results[0].get("content")
        text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content or [])
        data = json.loads(text)
        return [{"type": "text", "text": f"It is {data['forecast']} in {data['city']}."}]
    asked = " ".join(_texts(last))
    if "weather" in asked.lower() and any(t.get("name") == "weather" for t in body.get("tools") or []):
        city = asked.rstrip("?").split()[-1]
        call_id = f"toolu_{len(messages):02d}weather"
        return [{"type": "tool_use", "id": call_id, "name": "weather", "input": {"city": city}}]
    users = [m for m in messages if m["role"] == "user" and _texts(m)]
    said = [t for m in messages if m["role"] == "assistant" for t in _texts(m)]
    first = " ".join(_texts(users[0])) if users else ""
    return [{"type": "text", "text": f"You first asked: {first} | I last said: {said[-1] if said else ''}"}]


def _message(body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
    stop = "tool_use" if content[-1]["type"] == "tool_use" else "end_turn"
    return {
        "id": "msg_weather",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10 * len(body["messages"]), "output_tokens": 7},
    }


def _sse(message: dict[str, Any]) -> bytes:
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    frames: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opened, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block["text"]}
        else:
            opened = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        frames.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": opened}))
        frames.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        frames.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    end = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    frames.append(("message_delta", {"type": "message_delta", "delta": end, "usage": message["usage"]}))
    frames.append(("message_stop", {"type": "message_stop"}))
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in frames)


class WeatherUpstream:
    """The MockTransport handler; `bodies` are the Anthropic request bodies it was sent, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        refused = refusal("anthropic", request.url.path, dict(request.url.params), dict(request.headers), body)
        problem = _unanswered(body)
        if refused is not None:
            return httpx.Response(refused[0], json=refused[1])
        if problem is not None:
            error = {"type": "error", "error": {"type": "invalid_request_error", "message": problem}}
            return httpx.Response(400, json=error)
        message = _message(body, answer(body))
        if body.get("stream"):
            return httpx.Response(200, content=_sse(message), headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=message)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def spec(db: str, **server: Any) -> dict[str, Any]:
    """Keys `alice` and `bob` (ALICE_KEY, BOB_KEY), route `gpt-4o` to the fake Anthropic upstream."""
    return {
        "version": 1,
        "server": {"require_key": True, **server},
        "providers": {"weather": {"type": "anthropic", "base_url": f"http://{HOST}", "api_key_env": "UP_KEY"}},
        "models": {"gpt-4o": {"target": "weather/claude-sonnet-4-5"}},
        "virtual_keys": [{"name": "alice", "key_env": "ALICE_KEY"}, {"name": "bob", "key_env": "BOB_KEY"}],
        "observability": {"log_store": "sqlite", "sqlite_path": db},
    }


ENV = {"UP_KEY": "sk-up", "ALICE_KEY": "sk-alice-0123456789", "BOB_KEY": "sk-bob-0123456789"}
