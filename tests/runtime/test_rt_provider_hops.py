"""A conversation that hops between model families (weighted routes, fallbacks) stays acceptable to Claude.

Turns another family served come back from the client with thinking Claude did not sign; Claude refuses those
("Invalid `signature` in `thinking` block") and refuses thinking when the tool loop in progress has none.
"""

from __future__ import annotations

import anthropic
from rt_fakes import (
    Upstream,
    anthropic_message,
    app_for,
    asgi_client,
    gateway,
    json_reply,
    openai_text_stream,
    provider,
    sse_reply,
)
from test_rt_cross_dialect import USER, build

TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.py"}}
TOOL_RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x = 1"}]}
CLAUDE_THINKING = {"type": "thinking", "thinking": "mine", "signature": "EqQBCkYIBxgCKkB"}


def _history(assistant_content: list[dict]) -> list[dict]:
    return [*USER, {"role": "assistant", "content": assistant_content}, TOOL_RESULT]


async def _forwarded(messages: list[dict], **fields) -> dict:
    up = Upstream().add("ant.test", json_reply(anthropic_message("ok")))
    app, _, _ = build(up)
    body = {"model": "claude", "max_tokens": 2048, "messages": messages, **fields}
    async with asgi_client(app) as client:
        response = await client.post("/anthropic/v1/messages", json=body)
    assert response.status_code == 200, response.text
    return up.bodies("ant.test")[0]


async def test_a_turn_another_family_thought_through_reaches_the_client_unsigned():
    up = Upstream().add("oai.test", sse_reply(openai_text_stream("ok", reasoning="pondering")))
    _, claude, _ = build(up)
    async with claude.messages.stream(model="gpt", max_tokens=100, messages=USER) as stream:
        final = await stream.get_final_message()
    assert isinstance(final.content[0], anthropic.types.ThinkingBlock) and final.content[0].signature == ""


async def test_unsigned_and_foreign_thinking_is_dropped_and_thinking_paused_mid_loop():
    foreign = [
        {"type": "thinking", "thinking": "from gpt", "signature": ""},
        {"type": "thinking", "thinking": "", "signature": "bfc:gemini:c2ln"},
        TOOL_USE,
    ]
    sent = await _forwarded(_history(foreign), thinking={"type": "enabled", "budget_tokens": 1024})
    assert sent["messages"][1]["content"] == [TOOL_USE]
    assert "thinking" not in sent  # the loop in progress has no Claude thinking to open with


async def test_claude_signed_history_passes_through_untouched():
    messages = _history([CLAUDE_THINKING, TOOL_USE])
    body = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    sent = await _forwarded(messages, **body)
    assert sent == {"model": "claude-up", "max_tokens": 2048, "messages": messages, **body}


async def test_foreign_thinking_in_older_turns_goes_but_thinking_stays_on():
    older = [
        *_history([{"type": "thinking", "thinking": "gpt", "signature": ""}, TOOL_USE]),
        {"role": "assistant", "content": [{"type": "text", "text": "x is 1"}]},
        {"role": "user", "content": "and now?"},
    ]
    sent = await _forwarded(older, thinking={"type": "adaptive"})
    assert sent["messages"][1]["content"] == [TOOL_USE]
    assert sent["thinking"] == {"type": "adaptive"}


async def test_claude_code_sessions_stick_to_one_target_of_a_weighted_route():
    gw = gateway(
        [provider("a", "anthropic", key_env="UP_KEY"), provider("b", "anthropic", key_env="UP_KEY")],
        {"sonnet": [("a", "claude-a"), ("b", "claude-b")]},
    )
    up = Upstream()
    for _ in range(40):
        up.add("a.test", json_reply(anthropic_message("from a")))
        up.add("b.test", json_reply(anthropic_message("from b")))
    app = app_for(gw, up)
    served: dict[str, set[str]] = {}
    async with asgi_client(app) as client:
        for session in [f"session-{n}" for n in range(8)]:
            for _ in range(4):
                body = {"model": "sonnet", "max_tokens": 8, "messages": USER, "metadata": {"user_id": session}}
                response = await client.post("/anthropic/v1/messages", json=body)
                served.setdefault(session, set()).add(response.headers["x-bifrostc-provider"])
    assert all(len(providers) == 1 for providers in served.values())
    assert set.union(*served.values()) == {"a", "b"}  # the sessions themselves are spread
