"""Open lists, at the HTTP surface: what Claude Code (or any client) sends is never refused for being new.

- To an Anthropic upstream every `anthropic-*` request header and every body field goes unchanged (only `model`
  is the route's): the system array in order with its cache_control, thinking, context_management,
  output_config, tool strict/defer_loading, and fields no release knows yet.
- Unknown headers and body fields are never a 400, on the Anthropic and the OpenAI dialects, translated or not.
- Query strings (`?beta=true`, as Claude Code sends) are tolerated on every endpoint.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rt_fakes import (
    Upstream,
    anthropic_message,
    app_for,
    asgi_client,
    gateway,
    json_reply,
    openai_completion,
    provider,
)

CLAUDE_CODE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
    "anthropic-dangerous-direct-browser-access": "true",
    "anthropic-future-header": "some-value",  # one no release sends yet
    "x-app": "cli",
    "x-stainless-retry-count": "0",
    "x-claude-code-session-id": "3cb9aea1-f450-4e9c-94a1-ae25b3b55646",
    "x-some-new-header": "1",
}
CLAUDE_CODE_BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 32000,
    "stream": False,
    "system": [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Project rules.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
    "tools": [
        {"name": "Bash", "description": "run", "input_schema": {"type": "object"}, "strict": True},
        {"name": "Later", "description": "deferred", "input_schema": {"type": "object"}, "defer_loading": True},
    ],
    "thinking": {"type": "adaptive", "display": "omitted"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "medium"},
    "metadata": {"user_id": '{"device_id":"d","session_id":"3cb9aea1-f450-4e9c-94a1-ae25b3b55646"}'},
    "safeguards": {"mode": "auto"},  # auto mode's field
    "a_field_from_next_year": {"nested": [1, 2, 3]},
}


def _anthropic_app() -> tuple[Any, Upstream]:
    upstream = Upstream(default={"up.test": json_reply(anthropic_message("ok"))})
    gw = gateway([provider("up", "anthropic", key_env="UP_KEY")], {"m": [("up", "claude-up")]})
    return app_for(gw, upstream), upstream


async def test_every_anthropic_header_and_body_field_reaches_an_anthropic_upstream_unchanged() -> None:
    app, upstream = _anthropic_app()
    async with asgi_client(app) as client:
        response = await client.post(
            "/anthropic/v1/messages?beta=true", json=CLAUDE_CODE_BODY, headers=CLAUDE_CODE_HEADERS
        )
    assert response.status_code == 200, response.text
    [sent] = upstream.requests
    assert orjson.loads(sent.content) == CLAUDE_CODE_BODY | {"model": "claude-up"}  # the system array in order too
    for name, value in CLAUDE_CODE_HEADERS.items():
        if name.startswith("anthropic-"):
            assert sent.headers[name] == value
    assert sent.headers["x-api-key"] == "sk-test"  # the upstream's credential, never the client's


async def test_count_tokens_forwards_every_anthropic_header_and_tolerates_the_query() -> None:
    upstream = Upstream(default={"up.test": json_reply({"input_tokens": 42})})
    gw = gateway([provider("up", "anthropic", key_env="UP_KEY")], {"m": [("up", "claude-up")]})
    body = {k: v for k, v in CLAUDE_CODE_BODY.items() if k not in ("max_tokens", "stream", "metadata")}
    async with asgi_client(app_for(gw, upstream)) as client:
        response = await client.post(
            "/anthropic/v1/messages/count_tokens?beta=true", json=body, headers=CLAUDE_CODE_HEADERS
        )
    assert response.status_code == 200 and response.json() == {"input_tokens": 42}
    [sent] = upstream.requests
    assert sent.headers["anthropic-future-header"] == "some-value"
    assert sent.headers["anthropic-beta"] == CLAUDE_CODE_HEADERS["anthropic-beta"]


async def test_a_header_sent_twice_reaches_the_upstream_joined() -> None:
    app, upstream = _anthropic_app()
    headers = [("anthropic-beta", "a-2025-01-01"), ("anthropic-beta", "b-2025-02-02")]
    async with asgi_client(app) as client:
        response = await client.post("/anthropic/v1/messages", json=CLAUDE_CODE_BODY, headers=headers)
    assert response.status_code == 200, response.text
    assert upstream.requests[0].headers["anthropic-beta"] == "a-2025-01-01,b-2025-02-02"


OPENAI_BODY: dict[str, Any] = {
    "model": "m",
    "messages": [{"role": "user", "content": "hi", "some_new_message_field": True}],
    "a_field_from_next_year": {"nested": True},
    "prompt_cache_key": "conv-1",
}
RESPONSES_BODY: dict[str, Any] = {"model": "m", "input": "hi", "a_field_from_next_year": 1, "store": False}
# (client path, body, upstream family): translated both ways, and relayed.
CASES = [
    ("/anthropic/v1/messages?beta=true", CLAUDE_CODE_BODY, "openai"),
    ("/v1/chat/completions?api-version=2025-01-01", OPENAI_BODY, "anthropic"),
    ("/v1/chat/completions?x=1", OPENAI_BODY, "openai"),
    ("/openai/v1/chat/completions?x=1", OPENAI_BODY, "openai"),
    ("/v1/responses?x=1", RESPONSES_BODY, "openai"),
    ("/v1/responses?x=1", RESPONSES_BODY, "anthropic"),
]


@pytest.mark.parametrize(("path", "body", "family"), CASES, ids=[f"{p.split('?')[0]}<-{f}" for p, _, f in CASES])
async def test_unknown_headers_fields_and_query_strings_are_never_refused(
    path: str, body: dict[str, Any], family: str
) -> None:
    reply = anthropic_message("ok") if family == "anthropic" else openai_completion("ok")
    upstream = Upstream(default={"up.test": json_reply(reply)})
    gw = gateway([provider("up", family, key_env="UP_KEY")], {"m": [("up", "up-model")]})
    async with asgi_client(app_for(gw, upstream)) as client:
        response = await client.post(path, json=copy.deepcopy(body), headers=CLAUDE_CODE_HEADERS)
    assert response.status_code == 200, response.text
    assert len(upstream.requests) == 1


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
# Names no API documents (a prefix keeps them off every known field): new fields of a future release.
NEW_FIELDS = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).map("zz_".__add__), JSON_VALUES, max_size=4
)
NEW_HEADERS = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).map("x-zz-".__add__),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.,=", max_size=20),
    max_size=4,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=NEW_FIELDS, headers=NEW_HEADERS)
async def test_any_new_field_or_header_is_relayed_or_ignored_never_refused(
    fields: dict[str, Any], headers: dict[str, str]
) -> None:
    app, upstream = _anthropic_app()
    body = CLAUDE_CODE_BODY | fields
    async with asgi_client(app) as client:
        relayed = await client.post("/anthropic/v1/messages?beta=true", json=body, headers=headers)
    assert relayed.status_code == 200, relayed.text
    assert orjson.loads(upstream.requests[-1].content) == body | {"model": "claude-up"}
    openai_up = Upstream(default={"up.test": json_reply(openai_completion("ok"))})
    gw = gateway([provider("up", "openai", key_env="UP_KEY")], {"m": [("up", "up-model")]})
    async with asgi_client(app_for(gw, openai_up)) as client:
        translated = await client.post("/anthropic/v1/messages", json=body, headers=headers)
        chat = await client.post("/v1/chat/completions", json=OPENAI_BODY | fields, headers=headers)
    assert translated.status_code == 200, translated.text
    assert chat.status_code == 200, chat.text
