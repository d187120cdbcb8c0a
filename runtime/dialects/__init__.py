"""The client dialects the gateway speaks, one object each (the seam is `base.ClientDialect`).

Adding a dialect is one new module here plus one line in `DIALECTS`: the route table (`app.gateway_routes`),
`handle_chat`, error rendering and the request log all read this registry.
"""

from __future__ import annotations

from bifrostc.runtime.dialects.anthropic_messages import AnthropicMessages
from bifrostc.runtime.dialects.base import ClientDialect, Endpoint, Inbound
from bifrostc.runtime.dialects.bedrock import BedrockConverse, BedrockInvoke
from bifrostc.runtime.dialects.gemini import GeminiAPI
from bifrostc.runtime.dialects.openai_chat import OpenAIChat
from bifrostc.runtime.dialects.openai_responses import OpenAIResponses
from bifrostc.runtime.dialects.vertex import VertexAnthropic

OPENAI_CHAT = OpenAIChat()  # also the shape of errors on paths no dialect claims
DIALECTS: tuple[ClientDialect, ...] = (
    AnthropicMessages(),
    OPENAI_CHAT,
    OpenAIResponses(),
    GeminiAPI(),
    BedrockConverse(),
    BedrockInvoke(),
    VertexAnthropic(),
)

_BY_NAME: dict[str, ClientDialect] = {d.name: d for d in DIALECTS}

__all__ = ["DIALECTS", "ClientDialect", "Endpoint", "Inbound", "dialect_for_path", "dialect_named"]


def dialect_named(name: str) -> ClientDialect:
    return _BY_NAME.get(name, OPENAI_CHAT)


def dialect_for_path(path: str) -> ClientDialect:
    """The dialect whose errors a path gets (its router 404/405s): the longest claimed prefix, else OpenAI's."""
    best: tuple[int, ClientDialect] = (0, OPENAI_CHAT)
    for dialect in DIALECTS:
        for prefix in dialect.error_prefixes:
            if len(prefix) > best[0] and (path == prefix or path.startswith(prefix + "/")):
                best = (len(prefix), dialect)
    return best[1]
