"""Hypothesis strategies for canonical values, narrowed per dialect to what that dialect can carry losslessly."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import strategies as st

from bifrostc.runtime.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    TextPart,
    Thinking,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

text = st.text(min_size=1, max_size=20)
ident = st.from_regex(r"[a-zA-Z0-9_-]{1,12}", fullmatch=True)
cache = st.none() | st.just({"type": "ephemeral"})
json_scalar = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=10)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
json_object = st.dictionaries(st.text(max_size=6), json_value, max_size=4)
arguments = json_object.map(lambda obj: orjson.dumps(obj).decode())
usage = st.builds(
    Usage,
    input_tokens=st.integers(0, 10**6),
    output_tokens=st.integers(0, 10**6),
    cache_read_tokens=st.integers(0, 10**6),
    cache_write_tokens=st.integers(0, 10**6),
)
image = st.one_of(
    st.builds(ImagePart, media_type=st.sampled_from(["image/png", "image/jpeg", "application/pdf"]), data=ident),
    st.builds(ImagePart, url=ident.map(lambda s: f"https://example.com/{s}.png")),
)


def _alternating(user: st.SearchStrategy[list[Part]], assistant: st.SearchStrategy[list[Part]]) -> st.SearchStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> list[Message]:
        count = draw(st.integers(1, 5))
        return [
            Message("user", draw(user)) if i % 2 == 0 else Message("assistant", draw(assistant)) for i in range(count)
        ]

    return build()


def _tools(max_size: int = 3) -> st.SearchStrategy[list[Tool]]:
    schema = st.builds(lambda p: {"type": "object", "properties": {p: {"type": "string"}}}, ident)
    return st.lists(st.builds(Tool, ident, st.none() | text, schema), max_size=max_size, unique_by=lambda t: t.name)


def _choice(tools: list[Tool]) -> st.SearchStrategy[ToolChoice | None]:
    if not tools:
        return st.none()
    named = st.builds(ToolChoice, st.just("tool"), st.sampled_from([t.name for t in tools]), st.booleans())
    return st.none() | named | st.builds(ToolChoice, st.sampled_from(["auto", "any"]), st.none(), st.booleans())


# --- Anthropic: the canonical model is Anthropic-shaped, so nearly everything round-trips -------------

_anthropic_user_part = st.one_of(
    st.builds(TextPart, text, cache),
    image.map(lambda i: ImagePart(i.media_type, i.data, i.url, None)),
    st.builds(ToolResultPart, ident, st.lists(st.builds(TextPart, text) | image, max_size=2), st.booleans(), cache),
)
_anthropic_assistant_part = st.one_of(
    st.builds(TextPart, text, cache),
    st.builds(ThinkingPart, text, ident),
    st.builds(lambda d: ThinkingPart("", None, d), ident),
    st.builds(ToolCallPart, ident, ident, arguments, cache),
)


@st.composite
def anthropic_requests(draw: st.DrawFn) -> ChatRequest:
    tools = draw(_tools())
    thinking = draw(
        st.none() | st.builds(Thinking, st.just("enabled"), st.integers(1024, 4000)) | st.just(Thinking("adaptive"))
    )
    return ChatRequest(
        model="claude",
        messages=draw(
            _alternating(
                st.lists(_anthropic_user_part, min_size=1, max_size=3),
                st.lists(_anthropic_assistant_part, min_size=1, max_size=3),
            )
        ),
        system=draw(st.lists(st.builds(TextPart, text, cache), max_size=2)),
        max_tokens=draw(st.integers(4097, 64000)),
        temperature=draw(st.none() | st.floats(0, 1)),
        top_k=draw(st.none() | st.integers(1, 100)),
        stop=draw(st.lists(text, max_size=2)),
        stream=draw(st.booleans()),
        tools=tools,
        tool_choice=draw(_choice(tools)),
        thinking=thinking,
        reasoning_effort=draw(st.none() | st.sampled_from(["low", "high"])) if thinking else None,
        user=draw(st.none() | text),
        extra={"_source": "anthropic"},
    )


# --- OpenAI: text joins, assistant text precedes tool calls, every tool call is answered right after -------

_openai_user = st.lists(st.builds(TextPart, text) | image, min_size=1, max_size=3)


@st.composite
def _openai_assistant(draw: st.DrawFn) -> list[Part]:
    parts: list[Part] = draw(st.lists(st.builds(TextPart, text), max_size=1))
    calls = st.lists(st.builds(ToolCallPart, ident, ident, arguments), max_size=3, unique_by=lambda c: c.id)
    return parts + draw(calls if parts else calls.filter(bool))


@st.composite
def _openai_conversation(draw: st.DrawFn) -> list[Message]:
    messages = [Message("user", draw(_openai_user))]
    for _ in range(draw(st.integers(0, 2))):
        assistant = draw(_openai_assistant())
        messages.append(Message("assistant", assistant))
        calls = [p for p in assistant if isinstance(p, ToolCallPart)]
        if calls:
            results: list[Part] = [ToolResultPart(c.id, [TextPart(draw(text))]) for c in calls]
            messages.append(Message("user", results))
        else:
            messages.append(Message("user", draw(_openai_user)))
    return messages


@st.composite
def openai_requests(draw: st.DrawFn) -> ChatRequest:
    tools = draw(_tools())
    choice = draw(_choice(tools))
    return ChatRequest(
        model="gpt",
        messages=draw(_openai_conversation()),
        system=draw(st.lists(st.builds(TextPart, text), max_size=1)),
        max_tokens=draw(st.none() | st.integers(1, 64000)),
        temperature=draw(st.none() | st.floats(0, 2)),
        top_p=draw(st.none() | st.floats(0, 1)),
        stop=draw(st.lists(text, max_size=2)),
        stream=draw(st.booleans()),
        tools=tools,
        tool_choice=choice,
        reasoning_effort=draw(st.none() | st.sampled_from(["low", "medium", "high"])),
        user=draw(st.none() | text),
        extra={"_source": "openai"},
    )


def anthropic_responses() -> st.SearchStrategy[ChatResponse]:
    parts = st.lists(
        st.builds(TextPart, text)
        | st.builds(ThinkingPart, text, ident)
        | st.builds(lambda d: ThinkingPart("", None, d), ident)
        | st.builds(ToolCallPart, ident, ident, arguments),
        max_size=4,
    )
    stops = st.sampled_from(["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn"])
    return st.builds(ChatResponse, ident, ident, parts, stops, st.none(), usage)


@st.composite
def openai_responses(draw: st.DrawFn) -> ChatResponse:
    parts: list[Part] = draw(st.lists(st.builds(ThinkingPart, text), max_size=1))
    parts += draw(st.lists(st.builds(TextPart, text), max_size=1))
    parts += draw(st.lists(st.builds(ToolCallPart, ident, ident, arguments), max_size=3))
    stop = draw(st.sampled_from(["end_turn", "max_tokens", "tool_use", "refusal"]))
    if stop == "end_turn" and any(isinstance(p, ToolCallPart) for p in parts):
        stop = "tool_use"  # "stop" with tool calls is read as tool_use, by design
    resp_usage = draw(usage)
    resp_usage.reasoning_tokens = draw(st.integers(0, resp_usage.output_tokens))
    return ChatResponse(draw(ident), draw(ident), parts, stop, None, resp_usage)


def split(draw: st.DrawFn, value: str) -> list[str]:
    """Cut ``value`` into fragments at random points."""
    cuts = sorted(draw(st.sets(st.integers(1, max(len(value) - 1, 1)), max_size=6))) if len(value) > 1 else []
    bounds = [0, *cuts, len(value)]
    return [value[a:b] for a, b in itertools.pairwise(bounds) if value[a:b]]
