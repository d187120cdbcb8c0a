"""Run our SSE bytes and JSON bodies through the official SDKs' own parsers (no network: MockTransport)."""

from __future__ import annotations

from typing import Any

import anthropic as anthropic_sdk
import httpx2 as httpx
import openai as openai_sdk


def _client(body: bytes, content_type: str) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, content=body)

    return httpx.Client(transport=httpx.MockTransport(handler))


def anthropic_final_message(sse: bytes) -> anthropic_sdk.types.Message:
    client = anthropic_sdk.Anthropic(
        api_key="test", base_url="http://127.0.0.1", http_client=_client(sse, "text/event-stream")
    )
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        return stream.get_final_message()


def anthropic_events(sse: bytes) -> list[Any]:
    client = anthropic_sdk.Anthropic(
        api_key="test", base_url="http://127.0.0.1", http_client=_client(sse, "text/event-stream")
    )
    stream = client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}], stream=True)
    return list(stream)


def openai_chunks(sse: bytes) -> list[Any]:
    client = openai_sdk.OpenAI(
        api_key="test", base_url="http://127.0.0.1/v1", http_client=_client(sse, "text/event-stream")
    )
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    return list(stream)


def openai_final_completion(sse: bytes) -> Any:
    client = openai_sdk.OpenAI(
        api_key="test", base_url="http://127.0.0.1/v1", http_client=_client(sse, "text/event-stream")
    )
    with client.chat.completions.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion()


def openai_response_events(sse: bytes) -> list[Any]:
    """Responses API events as ``client.responses.create(stream=True)`` parses them."""
    client = openai_sdk.OpenAI(
        api_key="test", base_url="http://127.0.0.1/v1", http_client=_client(sse, "text/event-stream")
    )
    return list(client.responses.create(model="m", input="hi", stream=True))


def openai_final_response(sse: bytes) -> Any:
    """The response the ``client.responses.stream(...)`` helper assembles (strict about item identities)."""
    client = openai_sdk.OpenAI(
        api_key="test", base_url="http://127.0.0.1/v1", http_client=_client(sse, "text/event-stream")
    )
    with client.responses.stream(model="m", input="hi") as stream:
        for _ in stream:
            pass
        return stream.get_final_response()
