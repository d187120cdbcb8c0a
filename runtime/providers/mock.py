"""The built-in offline provider: deterministic answers, no network, no keys.

What it says is ``mock_assistant.reply`` (a greeting, what it is, a tool call and an answer from its result);
this module wraps it as an adapter: a response, or the canonical stream of one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import orjson

from bifrostc.runtime import config
from bifrostc.runtime.providers.mock_assistant import reply
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
    Usage,
)


class MockAdapter:
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient | None = None) -> None:
        self.provider = provider

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        return answer(request, model)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        for event in events_for(answer(request, model)):
            yield event


def _text_of(parts: list[Part]) -> str:
    return "".join(p.text for p in parts if isinstance(p, TextPart))


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def answer(request: ChatRequest, model: str) -> ChatResponse:
    last = next((m.content for m in reversed(request.messages) if m.role == "user"), [])
    digest = hashlib.sha256(orjson.dumps([model, _text_of(last)])).hexdigest()[:24]
    prompt_tokens = _estimate_tokens(" ".join(_text_of(m.content) for m in request.messages))
    said = reply(request)
    if said.call is not None:
        call = ToolCallPart(id=f"toolu_mock_{digest}", name=said.call[0], arguments=said.call[1])
        usage = Usage(input_tokens=prompt_tokens, output_tokens=_estimate_tokens(call.arguments))
        return ChatResponse(id=f"msg_mock_{digest}", model=model, content=[call], stop_reason="tool_use", usage=usage)
    usage = Usage(input_tokens=prompt_tokens, output_tokens=_estimate_tokens(said.text))
    return ChatResponse(id=f"msg_mock_{digest}", model=model, content=[TextPart(said.text)], usage=usage)


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
