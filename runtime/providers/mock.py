"""The built-in offline provider: deterministic answers, no network, no keys.

It echoes the last user text. A last user text of the form ``call tool NAME`` (optionally followed by
``with {json}``) yields a tool call to NAME; a request whose last message carries tool results gets a
final text that quotes them. That is enough to drive an agent loop, which makes the quickstart useful.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import orjson

from bifrostc.runtime import config
from bifrostc.runtime.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    Part,
    StreamEvent,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

TOOL_PHRASE = re.compile(r"call (?:the )?tool\s+([A-Za-z0-9_.:-]+)(?:\s+with\s+(\{.*\}))?", re.IGNORECASE | re.DOTALL)


class MockAdapter:
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient | None = None) -> None:
        self.provider = provider

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        return answer(request, model)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        for event in events_for(answer(request, model)):
            yield event


def _last_user_parts(request: ChatRequest) -> list[Part]:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return []


def _text_of(parts: list[Part]) -> str:
    return "".join(p.text for p in parts if isinstance(p, TextPart))


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def answer(request: ChatRequest, model: str) -> ChatResponse:
    parts = _last_user_parts(request)
    digest = hashlib.sha256(orjson.dumps([model, _text_of(parts)])).hexdigest()[:24]
    prompt_tokens = _estimate_tokens(" ".join(_text_of(m.content) for m in request.messages))
    results = [p for p in parts if isinstance(p, ToolResultPart)]
    text = _text_of(parts).strip()
    match = TOOL_PHRASE.search(text) if not results else None
    if match and (not request.tools or any(t.name == match.group(1) for t in request.tools)):
        call = ToolCallPart(id=f"toolu_mock_{digest}", name=match.group(1), arguments=match.group(2) or "{}")
        usage = Usage(input_tokens=prompt_tokens, output_tokens=_estimate_tokens(call.arguments))
        return ChatResponse(id=f"msg_mock_{digest}", model=model, content=[call], stop_reason="tool_use", usage=usage)
    if results:
        quoted = " | ".join(_text_of(list(r.content)) for r in results)
        reply = f"Tool result received: {quoted}"
    else:
        reply = text or "Hello from the bifrostc mock provider."
    usage = Usage(input_tokens=prompt_tokens, output_tokens=_estimate_tokens(reply))
    return ChatResponse(id=f"msg_mock_{digest}", model=model, content=[TextPart(reply)], usage=usage)


def events_for(response: ChatResponse) -> list[StreamEvent]:
    """Canonical stream for a finished response (text chunked by word, tool arguments in one delta)."""
    events: list[StreamEvent] = [
        MessageStart(id=response.id, model=response.model, usage=Usage(input_tokens=response.usage.input_tokens))
    ]
    for index, part in enumerate(response.content):
        if isinstance(part, ToolCallPart):
            events.append(BlockStart(index=index, type="tool_use", id=part.id, name=part.name))
            events.append(BlockDelta(index=index, kind="arguments", text=part.arguments))
        elif isinstance(part, TextPart):
            events.append(BlockStart(index=index, type="text"))
            events.extend(BlockDelta(index=index, kind="text", text=w) for w in re.findall(r"\S+\s*|\s+", part.text))
        events.append(BlockStop(index=index))
    final_usage = Usage(output_tokens=response.usage.output_tokens)
    events.append(MessageDelta(stop_reason=response.stop_reason, usage=final_usage))
    events.append(MessageStop())
    return events
