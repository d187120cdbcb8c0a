"""What an Anthropic client sends is fitted to the OpenAI model behind the route, and names come back intact."""

from __future__ import annotations

import anthropic
from rt_fakes import (
    Upstream,
    app_for,
    gateway,
    json_reply,
    openai_completion,
    openai_tool_stream,
    provider,
    sdk_http_client,
    sse_reply,
)

from bifrostc.runtime.translate.common import openai_tool_name

USER = [{"role": "user", "content": "hi"}]
LONG_TOOL = "mcp__bifrostc__" + "very_long_server_name__" * 3 + "read_file"


def client_for(upstream: Upstream, model: str) -> anthropic.AsyncAnthropic:
    gw = gateway([provider("oai", "openai", key_env="UP_KEY")], {"gpt": [("oai", model)]}, tiers={"sonnet": "gpt"})
    return anthropic.AsyncAnthropic(
        base_url="http://localhost/anthropic", api_key="x", http_client=sdk_http_client(app_for(gw, upstream))
    )


async def test_claude_code_sized_request_is_fitted_to_a_chat_model() -> None:
    up = Upstream().add("oai.test", json_reply(openai_completion("ok")))
    claude = client_for(up, "gpt-4o")
    await claude.messages.create(
        model="sonnet", max_tokens=32_000, messages=USER, thinking={"type": "enabled", "budget_tokens": 8_000}
    )
    sent = up.bodies("oai.test")[0]
    assert sent["max_completion_tokens"] == 16_384
    assert "reasoning_effort" not in sent


async def test_reasoning_model_keeps_the_effort() -> None:
    up = Upstream().add("oai.test", json_reply(openai_completion("ok")))
    claude = client_for(up, "gpt-5")
    await claude.messages.create(
        model="sonnet", max_tokens=32_000, messages=USER, thinking={"type": "enabled", "budget_tokens": 8_000}
    )
    sent = up.bodies("oai.test")[0]
    assert sent["max_completion_tokens"] == 32_000 and sent["reasoning_effort"]


async def test_long_tool_names_come_back_as_the_client_named_them() -> None:
    short = openai_tool_name(LONG_TOOL)
    assert short != LONG_TOOL and len(short) <= 64
    tool = {"name": LONG_TOOL, "description": "read", "input_schema": {"type": "object", "properties": {}}}

    call = {"id": "call_1", "type": "function", "function": {"name": short, "arguments": "{}"}}
    up = Upstream().add("oai.test", json_reply(openai_completion(None, tool_calls=[call])))
    msg = await client_for(up, "gpt-5").messages.create(model="sonnet", max_tokens=100, messages=USER, tools=[tool])
    assert [t["function"]["name"] for t in up.bodies("oai.test")[0]["tools"]] == [short]
    assert msg.content[0].type == "tool_use" and msg.content[0].name == LONG_TOOL

    up = Upstream().add("oai.test", sse_reply(openai_tool_stream([("call_1", short, "{}")])))
    async with client_for(up, "gpt-5").messages.stream(
        model="sonnet", max_tokens=100, messages=USER, tools=[tool]
    ) as stream:
        final = await stream.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].name == LONG_TOOL
