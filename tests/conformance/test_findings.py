"""Regression tests at the HTTP surface for issue 9 findings 1 and 2 and issue 10 item 8 (all fail on d6706f8)."""

from __future__ import annotations

import re

import orjson
import pytest

from .gateway import rig
from .wire import FAMILIES

ALL = list(FAMILIES)


@pytest.mark.parametrize("family", ALL)
async def test_stream_broken_after_headers_before_first_event_falls_back(family: str) -> None:
    """Finding 1: a 200 + headers, then the connection breaks before the first event: not a 200 `event: error`
    (Gemini, Vertex, Bedrock, Cohere on main) but an upstream failure: the fallback answers, the breaker counts it."""
    async with rig(FAMILIES[family]) as gateway:
        gateway.script.behaviour = "reset_before"
        solo = await gateway.call("anthropic", "solo", stream=True)
        main = await gateway.call("anthropic", "main", stream=True)
    assert (solo.status, solo.error_type, solo.error_event, solo.breaker_failed) == (502, "api_error", False, True)
    assert (main.status, main.fallback) == (200, True)


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize("family", ALL)
async def test_context_overflow_is_worded_for_claude_code_by_every_family(family: str, stream: bool) -> None:
    """Finding 2: each family's own "prompt does not fit" 400 reaches Claude Code in words its compaction matches:
    Anthropic's `prompt is too long: N tokens > M maximum` (Bedrock's own `Input is too long for requested model.`,
    which Claude Code knows, unchanged), never prefixed with the provider."""
    async with rig(FAMILIES[family]) as gateway:
        gateway.script.behaviour = "overflow"
        seen = await gateway.call("anthropic", "solo", stream=stream)
    assert (seen.status, seen.error_type) == (400, "invalid_request_error")
    assert seen.message is not None
    assert seen.message.startswith("prompt is too long: ") or seen.message == "Input is too long for requested model."


async def test_connect_errors_are_worded_the_same_by_every_family() -> None:
    """Finding 2: one wording for a refused connection, whatever the family (ports and provider aside)."""
    messages = {}
    for family in ALL:
        async with rig(FAMILIES[family]) as gateway:
            seen = await gateway.call("anthropic", "solo-refused", stream=False)
        assert seen.status == 502 and seen.message is not None
        messages[family] = re.sub(r"\d+", "N", seen.message)
    assert len(set(messages.values())) == 1, messages
    assert next(iter(messages.values())).startswith("down unreachable (ConnectError): ")


OPENAI_CHUNK = orjson.dumps({"id": "c", "object": "chat.completion.chunk", "choices": []})
# (what the upstream answers with HTTP 200, stream?, status it must be logged with): item 8 of issue 10
ODD_200S = {
    "html": ("text/html", b"<html><body>maintenance</body></html>", False, 502),
    "malformed-json": ("application/json", b'{"id": "chatcmpl-1", "choices": [', False, 502),
    "stream-answered-with-html": ("text/html", b"<html>proxy error</html>", True, 502),
    "openai-error-in-200": (
        "application/json",
        b'{"error": {"message": "upstream overloaded", "type": "server_error", "code": 503}}',
        False,
        503,
    ),
    "anthropic-error-in-200": (
        "application/json",
        b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
        False,
        529,
    ),
    "openai-error-event-first": (
        "text/event-stream",
        b'data: {"error": {"message": "upstream overloaded", "type": "server_error", "code": 503}}\n\n',
        True,
        503,
    ),
    "openai-error-event-after-keepalive-comments": (
        "text/event-stream",
        b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n"
        b'data: {"error": {"message": "provider returned error", "code": 502}}\n\n',
        True,
        502,
    ),
    "anthropic-error-event-first": (
        "text/event-stream",
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n',
        True,
        529,
    ),
}


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("case", list(ODD_200S))
async def test_passthrough_checks_what_it_relays(case: str, dialect: str) -> None:
    """Issue 10 item 8: a same-dialect passthrough does not relay a 200 that is not a valid answer: it is an
    upstream failure (the fallback answers; without one the client gets the error), logged with its real status."""
    content_type, body, stream, status = ODD_200S[case]
    family = FAMILIES["openai" if dialect == "openai" else "anthropic"]
    async with rig(family) as gateway:
        gateway.script.raw = (200, content_type, body)
        main = await gateway.call(dialect, "main", stream=stream)
        solo = await gateway.call(dialect, "solo", stream=stream)
        logged = gateway.hooks.logged
    assert (main.status, main.fallback) == (200, True)
    assert solo.status == status and not solo.error_event
    assert logged == [200, status]
