"""The probe's scripted conversation: pure builders of canonical requests, no I/O.

The wording asks for the calls the way a person would, and also matches the offline mock provider's
"call tool NAME with {json}" phrase, so a quickstart spec probes without a network.
"""

from __future__ import annotations

import orjson

from bifrostc.runtime.types import (
    ChatRequest,
    Message,
    Part,
    TextPart,
    Thinking,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)

SYSTEM = "You are a coding agent being checked by a gateway. Use the tools exactly as asked; answer briefly."
WRITE_ARGS = {"path": "probe.txt", "content": "ok"}
READ_PATHS = ("a.txt", "b.txt")
MAX_TOKENS = 256
THINKING_BUDGET = 1024  # Anthropic's minimum budget; max_tokens must exceed it when thinking is on

WRITE_FILE = Tool(
    name="write_file",
    description="Write text to a file in the workspace.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"],
    },
)
READ_FILE = Tool(
    name="read_file",
    description="Read a file of the workspace.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
TOOLS = [WRITE_FILE, READ_FILE]


def _request(model: str, messages: list[Message], *, thinking: bool) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=messages,
        system=[TextPart(SYSTEM)],
        max_tokens=MAX_TOKENS + (THINKING_BUDGET if thinking else 0),
        stream=True,
        tools=list(TOOLS),
        thinking=Thinking("enabled", THINKING_BUDGET) if thinking else None,
    )


def first_turn_prompt() -> Message:
    args = orjson.dumps(WRITE_ARGS).decode()
    return Message("user", [TextPart(f"Call tool write_file with {args} and do not reply in text.")])


def tool_turn(model: str, *, thinking: bool) -> ChatRequest:
    """Turn 1: one call of write_file with fixed arguments."""
    return _request(model, [first_turn_prompt()], thinking=thinking)


def answer_turn(model: str, assistant: list[Part], *, thinking: bool) -> ChatRequest:
    """Turn 2: turn 1's assistant content (thinking included, as Claude Code resends it) and the tool result."""
    calls = [part for part in assistant if isinstance(part, ToolCallPart)]
    kept: list[Part] = [part for part in assistant if isinstance(part, ThinkingPart | ToolCallPart | TextPart)]
    results: list[Part] = [ToolResultPart(call.id, [TextPart("wrote 2 bytes to probe.txt")]) for call in calls]
    messages = [first_turn_prompt(), Message("assistant", kept), Message("user", [*results, TextPart("Say done.")])]
    return _request(model, messages, thinking=thinking)


def parallel_turn(model: str) -> ChatRequest:
    """One turn that should call read_file twice at once, as Claude Code does when it explores."""
    ask = "Call read_file for a.txt and for b.txt, both in this one turn (two tool calls in parallel)."
    return _request(model, [Message("user", [TextPart(ask)])], thinking=False)
