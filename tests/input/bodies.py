"""Request bodies as clients send them, drawn from each API's documented request schema, then spoiled.

Compact hand-written strategies, one per dialect, following the published schemas field by field: OpenAI's
``CreateChatCompletionRequest`` and ``CreateResponse`` (openai-openapi) and Anthropic's Messages request
(``POST /v1/messages``). ``spoiled(valid)`` then replaces a few leaves or subtrees anywhere in the body with a
value of another JSON type (an integer past int64, a float where an integer belongs, null, an array nested
deeper than the gateway can write again...) or deletes them, so each field a parser reads meets wrong input.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.translate.strategies import ident, json_object, json_value, text

fd = st.fixed_dictionaries
Strategy = st.SearchStrategy[Any]


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# Values of the wrong type for any field: the JSON types, the integers no 64-bit field holds, and nesting past
# what orjson writes back (254 levels) and past what it reads (1024). Picked by an integer, which hypothesis draws
# about uniformly (``one_of`` leans hard on its first and recursive branches).
_WRONG_KINDS: tuple[Strategy, ...] = (
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, 2**64, -1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e300, -1e300, 0.5, -0.0]),
    st.text(max_size=8),
    st.lists(json_value, max_size=3),
    json_object,
    st.just(255).map(nested),
    st.just(300).map(nested),
    st.just(260).map(lambda depth: {"x": nested(depth)}),
    st.just(1100).map(lambda depth: {"x": nested(depth)}),
)
wrong: Strategy = st.integers(0, len(_WRONG_KINDS) - 1).flatmap(lambda i: _WRONG_KINDS[i])


def _slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON value."""
    out: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append((node, key))
            stack.append(child)
    return out


@dataclass(frozen=True)
class Schema:
    """A request schema: its bodies, and the names of its top-level fields."""

    strategy: Strategy
    fields: tuple[str, ...]


def schema_of(required: dict[str, Strategy], optional: dict[str, Strategy]) -> Schema:
    return Schema(st.fixed_dictionaries(required, optional=optional), tuple(required) + tuple(optional))


@st.composite
def spoiled(draw: st.DrawFn, valid: Schema) -> dict[str, Any]:
    """A body from ``valid`` with 0-3 (mostly 1) fields set to ``wrong`` values or deleted: half of them top-level
    fields, present or not (``valid.fields`` names the schema's), half anywhere in the body."""
    body = copy.deepcopy(draw(valid.strategy))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):  # mostly one: a refused field hides the rest
        if draw(st.booleans()):
            slots = [(body, key) for key in sorted(set(body) | set(valid.fields))]
        else:
            slots = _slots(body) or [(body, key) for key in valid.fields]
        parent, key = draw(st.sampled_from(slots))
        if isinstance(parent, dict) and draw(st.integers(0, 4)) == 0:
            parent.pop(key, None)
        else:
            parent[key] = draw(wrong)
    return body


# --- shared pieces --------------------------------------------------------------------------------------
model = st.sampled_from(["gpt", "claude"])  # tests.input.surface routes both
temperature = st.floats(0, 2)
top_p = st.floats(0, 1)
max_tokens = st.integers(1, 64000)
schema = st.builds(lambda p: {"type": "object", "properties": {p: {"type": "string"}}, "required": [p]}, ident)
metadata = st.dictionaries(ident, text, max_size=3)
effort = st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh"])
data_url = st.just("data:image/png;base64,iVBORw0KGgo=")
image_url = st.sampled_from(["https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo="])

# --- OpenAI Chat Completions: CreateChatCompletionRequest ----------------------------------------------------
_chat_text_part = fd({"type": st.just("text"), "text": text})
_chat_user_part = st.one_of(
    _chat_text_part,
    fd({"type": st.just("image_url"), "image_url": fd({"url": image_url}, optional={"detail": st.just("auto")})}),
    fd({"type": st.just("input_audio"), "input_audio": fd({"data": ident, "format": st.just("wav")})}),
    fd({"type": st.just("file"), "file": fd({}, optional={"file_data": data_url, "filename": ident})}),
)
_chat_tool_call = fd(
    {"id": ident, "type": st.just("function"), "function": fd({"name": ident, "arguments": st.just('{"a": 1}')})}
)
_chat_message = st.one_of(
    fd(
        {"role": st.sampled_from(["system", "developer"]), "content": text | st.lists(_chat_text_part, max_size=2)},
        optional={"name": ident},
    ),
    fd({"role": st.just("user"), "content": text | st.lists(_chat_user_part, min_size=1, max_size=3)}),
    fd(
        {"role": st.just("assistant")},
        optional={
            "content": st.none() | text | st.lists(_chat_text_part | fd({"type": st.just("refusal"), "refusal": text})),
            "refusal": st.none() | text,
            "tool_calls": st.lists(_chat_tool_call, max_size=2),
            "reasoning_content": text,
        },
    ),
    fd({"role": st.just("tool"), "tool_call_id": ident, "content": text | st.lists(_chat_text_part, max_size=2)}),
)
_chat_tool = fd(
    {
        "type": st.just("function"),
        "function": fd({"name": ident}, optional={"description": text, "parameters": schema, "strict": st.booleans()}),
    }
)
_chat_tool_choice = st.sampled_from(["none", "auto", "required"]) | fd(
    {"type": st.just("function"), "function": fd({"name": ident})}
)
_json_schema_format = fd({"type": st.just("json_schema"), "json_schema": fd({"name": ident, "schema": schema})})

chat_bodies = schema_of(
    {"model": model, "messages": st.lists(_chat_message, min_size=1, max_size=4)},
    optional={
        "frequency_penalty": st.floats(-2, 2),
        "presence_penalty": st.floats(-2, 2),
        "logit_bias": st.dictionaries(st.integers(0, 100000).map(str), st.integers(-100, 100), max_size=2),
        "logprobs": st.booleans(),
        "top_logprobs": st.integers(0, 20),
        "max_tokens": max_tokens,
        "max_completion_tokens": max_tokens,
        "n": st.integers(1, 4),
        "modalities": st.just(["text"]),
        "prediction": fd({"type": st.just("content"), "content": text}),
        "response_format": fd({"type": st.sampled_from(["text", "json_object"])}) | _json_schema_format,
        "seed": st.integers(-(2**63), 2**63 - 1),
        "service_tier": st.sampled_from(["auto", "default", "flex", "priority"]),
        "stop": st.none() | text | st.lists(text, max_size=4),
        "store": st.booleans(),
        "stream": st.booleans(),
        "stream_options": fd({}, optional={"include_usage": st.booleans()}),
        "temperature": temperature,
        "top_p": top_p,
        "tools": st.lists(_chat_tool, max_size=3),
        "tool_choice": _chat_tool_choice,
        "parallel_tool_calls": st.booleans(),
        "user": text,
        "reasoning_effort": effort,
        "metadata": metadata,
        "prompt_cache_key": ident,
        "safety_identifier": ident,
        "verbosity": st.sampled_from(["low", "medium", "high"]),
        "web_search_options": fd({}, optional={"search_context_size": st.sampled_from(["low", "medium", "high"])}),
    },
)

# --- OpenAI Responses: CreateResponse ------------------------------------------------------------------------
_input_content = st.one_of(
    fd({"type": st.sampled_from(["input_text", "output_text"]), "text": text}),
    fd({"type": st.just("input_image"), "image_url": image_url}, optional={"detail": st.just("auto")}),
    fd({"type": st.just("input_file"), "file_data": data_url}, optional={"filename": ident}),
    fd({"type": st.just("refusal"), "refusal": text}),
)
_input_item = st.one_of(
    fd(
        {
            "role": st.sampled_from(["user", "assistant", "system", "developer"]),
            "content": text | st.lists(_input_content, max_size=3),
        },
        optional={"type": st.just("message")},
    ),
    fd({"type": st.just("function_call"), "call_id": ident, "name": ident, "arguments": st.just("{}")}),
    fd(
        {
            "type": st.just("function_call_output"),
            "call_id": ident,
            "output": text | st.lists(_input_content, max_size=2),
        }
    ),
    fd({"type": st.just("custom_tool_call"), "call_id": ident, "name": ident, "input": text}),
    fd({"type": st.just("custom_tool_call_output"), "call_id": ident, "output": text}),
    fd(
        {
            "type": st.just("reasoning"),
            "summary": st.lists(fd({"type": st.just("summary_text"), "text": text}), max_size=2),
        },
        optional={
            "id": ident,
            "encrypted_content": text,
            "content": st.lists(fd({"type": st.just("reasoning_text"), "text": text}), max_size=1),
        },
    ),
)
_responses_tool = st.one_of(
    fd(
        {"type": st.just("function"), "name": ident},
        optional={"description": text, "parameters": schema, "strict": st.booleans()},
    ),
    fd(
        {"type": st.just("custom"), "name": ident},
        optional={
            "description": text,
            "format": fd({"type": st.just("text")})
            | fd({"type": st.just("grammar"), "syntax": st.sampled_from(["lark", "regex"]), "definition": text}),
        },
    ),
    fd({"type": st.just("web_search")}),
)
_responses_tool_choice = st.sampled_from(["none", "auto", "required"]) | fd(
    {"type": st.sampled_from(["function", "custom"]), "name": ident}
)

responses_bodies = schema_of(
    {"model": model, "input": text | st.lists(_input_item, min_size=1, max_size=4)},
    optional={
        "instructions": text,
        "max_output_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "tools": st.lists(_responses_tool, max_size=3),
        "tool_choice": _responses_tool_choice,
        "parallel_tool_calls": st.booleans(),
        "reasoning": fd({}, optional={"effort": effort, "summary": st.sampled_from(["auto", "concise", "detailed"])}),
        "stream": st.booleans(),
        "store": st.just(False),
        "metadata": metadata,
        "user": text,
        "safety_identifier": ident,
        "prompt_cache_key": ident,
        "text": fd({}, optional={"format": fd({"type": st.just("text")}), "verbosity": st.just("low")}),
        "truncation": st.sampled_from(["auto", "disabled"]),
        "include": st.just(["reasoning.encrypted_content"]),
        "service_tier": st.just("auto"),
    },
)

# --- Anthropic Messages: POST /v1/messages -------------------------------------------------------------------
cache_control = fd({"type": st.just("ephemeral")})
_text_block = fd({"type": st.just("text"), "text": text}, optional={"cache_control": cache_control})
_image_source = fd({"type": st.just("base64"), "media_type": st.just("image/png"), "data": ident}) | fd(
    {"type": st.just("url"), "url": image_url}
)
_block = st.one_of(
    _text_block,
    fd({"type": st.just("image"), "source": _image_source}, optional={"cache_control": cache_control}),
    fd(
        {
            "type": st.just("document"),
            "source": fd({"type": st.just("text"), "media_type": st.just("text/plain"), "data": text}),
        },
        optional={"title": text},
    ),
    fd({"type": st.just("tool_use"), "id": ident, "name": ident, "input": json_object}),
    fd(
        {"type": st.just("tool_result"), "tool_use_id": ident},
        optional={"content": text | st.lists(_text_block, max_size=2), "is_error": st.booleans()},
    ),
    fd({"type": st.just("thinking"), "thinking": text, "signature": ident}),
    fd({"type": st.just("redacted_thinking"), "data": ident}),
)
_anthropic_tool = st.one_of(
    fd({"name": ident, "input_schema": schema}, optional={"description": text, "cache_control": cache_control}),
    fd(
        {"type": st.just("web_search_20250305"), "name": st.just("web_search")},
        optional={"max_uses": st.integers(1, 5)},
    ),
)
_anthropic_tool_choice = st.one_of(
    fd({"type": st.sampled_from(["auto", "any", "none"])}, optional={"disable_parallel_tool_use": st.booleans()}),
    fd({"type": st.just("tool"), "name": ident}, optional={"disable_parallel_tool_use": st.booleans()}),
)
_thinking = st.one_of(
    fd({"type": st.just("enabled"), "budget_tokens": st.integers(1024, 32000)}),
    fd({"type": st.sampled_from(["disabled", "adaptive"])}),
)

anthropic_bodies = schema_of(
    {
        "model": model,
        "max_tokens": max_tokens,
        "messages": st.lists(
            fd(
                {
                    "role": st.sampled_from(["user", "assistant"]),
                    "content": text | st.lists(_block, min_size=1, max_size=3),
                }
            ),
            min_size=1,
            max_size=4,
        ),
    },
    optional={
        "system": text | st.lists(_text_block, max_size=2),
        "metadata": fd({}, optional={"user_id": st.none() | text}),
        "stop_sequences": st.lists(text, max_size=3),
        "stream": st.booleans(),
        "temperature": st.floats(0, 1),
        "top_p": top_p,
        "top_k": st.integers(0, 500),
        "tools": st.lists(_anthropic_tool, max_size=3),
        "tool_choice": _anthropic_tool_choice,
        "thinking": _thinking,
        "output_config": fd({}, optional={"effort": st.sampled_from(["low", "medium", "high", "max"])}),
        "service_tier": st.sampled_from(["auto", "standard_only"]),
    },
)
