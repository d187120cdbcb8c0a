"""Check canonical streams the way an Anthropic client sees them: encode as SSE, read with the anthropic SDK."""

from __future__ import annotations

import anthropic
import httpx2
from anthropic.types import Message

from bifrostc.runtime.translate.anthropic import StreamEncoder
from bifrostc.runtime.types import StreamEvent


def final_message_via_sdk(events: list[StreamEvent]) -> Message:
    """Serve the encoded events to the SDK's own streaming helper and return its accumulated message."""
    encoder = StreamEncoder()
    body = b"".join(encoder.encode(event) for event in events)

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = anthropic.Anthropic(
        api_key="test",
        base_url="http://127.0.0.1:9",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    with client.messages.stream(
        model="gateway-route", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return stream.get_final_message()
