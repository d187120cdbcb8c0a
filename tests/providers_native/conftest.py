"""Shared fixtures: a canonical request rich enough to exercise every translation branch, fake upstreams."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from bifrostc.runtime import config
from bifrostc.runtime.providers import registry
from bifrostc.runtime.types import (
    ChatRequest,
    ImagePart,
    Message,
    TextPart,
    Thinking,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

Handler = Callable[[httpx.Request], httpx.Response]

READ_FILE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "description": "File to read"},
        "limit": {"type": ["integer", "null"], "minimum": 1},
        "mode": {"enum": ["text", "binary"]},
    },
    "required": ["path"],
}


def make_provider(type_: str, base_url: str = "", **options: str) -> config.Provider:
    typed = registry.provider_type(type_).options(**options) if options else None  # type: ignore[arg-type]
    return config.Provider(name=f"{type_}-test", type=type_, base_url=base_url, options=typed)


def mock_client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def agent_request(*, stream: bool = False) -> ChatRequest:
    """What a coding agent sends mid tool loop: system, tools, a tool call with its result, thinking."""
    return ChatRequest(
        model="public-model",
        system=[TextPart("You are a coding agent.", cache_control={"type": "ephemeral"})],
        messages=[
            Message("user", [TextPart("Read main.py"), ImagePart(media_type="image/png", data="iVBORw0KGgo=")]),
            Message(
                "assistant",
                [
                    ThinkingPart("I should read the file.", signature="c2lnLTE="),
                    TextPart("Reading it."),
                    ToolCallPart(id="toolu_01", name="read_file", arguments='{"path": "main.py"}'),
                ],
            ),
            Message(
                "user",
                [ToolResultPart(tool_call_id="toolu_01", content=[TextPart("print('hi')")])],
            ),
        ],
        max_tokens=4096,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
        stream=stream,
        tools=[Tool("read_file", "Read a file", READ_FILE_SCHEMA), Tool("list_dir", "List the cwd")],
        tool_choice=ToolChoice("auto"),
        thinking=Thinking("enabled", budget_tokens=2048),
    )


@pytest.fixture
def request_with_tools() -> ChatRequest:
    return agent_request()
