"""Canonical request, response and stream-event types: the hub every dialect translates through.

The shapes follow Anthropic's content-block model because it is the richest of the dialects we speak
(thinking blocks with signatures, cache_control, tool results with is_error). OpenAI-style messages map
onto it without loss for what coding agents send. Plain slotted dataclasses: no validation on the hot
path; the translators are the only code that builds them from wire JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
StopReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn"]


@dataclass(slots=True)
class TextPart:
    text: str
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ImagePart:
    media_type: str | None = None
    data: str | None = None  # base64, without the data: prefix
    url: str | None = None
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ThinkingPart:
    thinking: str
    signature: str | None = None
    redacted_data: str | None = None  # set for Anthropic redacted_thinking blocks


@dataclass(slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: str  # JSON text exactly as produced; parsed only where a dialect needs an object
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolResultPart:
    tool_call_id: str
    content: list[TextPart | ImagePart]
    is_error: bool = False
    cache_control: dict[str, Any] | None = None


Part = TextPart | ImagePart | ThinkingPart | ToolCallPart | ToolResultPart


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Part]


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolChoice:
    type: Literal["auto", "any", "none", "tool"] = "auto"
    name: str | None = None
    disable_parallel: bool = False


@dataclass(slots=True)
class Thinking:
    type: Literal["enabled", "adaptive", "disabled"] = "enabled"
    budget_tokens: int | None = None


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    system: list[TextPart] = field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    reasoning_effort: str | None = None  # low | medium | high (OpenAI reasoning_effort, Anthropic output_config.effort)
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # dialect-specific fields passed through untouched
    # Messages before `messages` that a relayed request kept as the client's JSON (handlers/relay_parse.py):
    # `messages` is then only what the turn adds (the messages after the last assistant turn).
    history_omitted: int = 0
    # Tools a relayed request kept as the client's JSON, unparsed: `tools` is then empty (the log counts them).
    tools_omitted: int = 0


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0  # uncached prompt tokens, as Anthropic counts them
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str
    content: list[Part]
    stop_reason: StopReason | None = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


# --- streaming -------------------------------------------------------------------------------------
# A canonical stream is: MessageStart, then per content block BlockStart, BlockDelta*, BlockStop (blocks may
# interleave only by index, as parallel tool calls do), then MessageDelta, MessageStop. StreamError may
# replace the tail at any point.

BlockType = Literal["text", "thinking", "redacted_thinking", "tool_use"]
DeltaKind = Literal["text", "thinking", "signature", "arguments"]


@dataclass(slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class BlockStart:
    index: int
    type: BlockType
    id: str | None = None  # tool_use id
    name: str | None = None  # tool name
    data: str | None = None  # redacted_thinking payload


@dataclass(slots=True)
class BlockDelta:
    index: int
    kind: DeltaKind
    text: str


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(slots=True)
class MessageDelta:
    stop_reason: StopReason | None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class MessageStop:
    pass


@dataclass(slots=True)
class StreamError:
    type: str  # Anthropic error type: overloaded_error, api_error, rate_limit_error...
    message: str
    status: int = 500


StreamEvent = MessageStart | BlockStart | BlockDelta | BlockStop | MessageDelta | MessageStop | StreamError
