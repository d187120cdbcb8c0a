"""Serialisation round trip and key properties that don't depend on a backend."""

from __future__ import annotations

import pytest

from bifrostc.runtime.cache import keys
from bifrostc.runtime.cache.codec import decode_response, encode_response
from bifrostc.runtime.types import (
    ChatResponse,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

from .conftest import request


def test_every_part_type_round_trips() -> None:
    resp = ChatResponse(
        id="msg_x",
        model="claude",
        content=[
            ThinkingPart("hmm", signature="sig"),
            ThinkingPart("", redacted_data="opaque"),
            TextPart("hello", cache_control={"type": "ephemeral"}),
            ToolCallPart("call_1", "read_file", '{"path": "a.py"}'),
            ToolResultPart("call_1", [TextPart("ok"), ImagePart("image/png", data="AAAA")], is_error=True),
        ],
        stop_reason="tool_use",
        usage=Usage(1, 2, 3, 4, 5),
    )
    assert decode_response(encode_response(resp)) == resp


def test_key_is_stable_across_dict_order() -> None:
    a = request("q", extra={"response_format": {"type": "json_schema", "strict": True}, "seed": 1})
    b = request("q", extra={"seed": 1, "response_format": {"strict": True, "type": "json_schema"}})
    assert keys.exact_key(a, route="r", scope="s") == keys.exact_key(b, route="r", scope="s")


def test_per_turn_client_hints_do_not_split_the_cache() -> None:
    plain = request("q")
    codex = request("q", extra={"prompt_cache_key": "conv-1", "client_metadata": {"turn": "7"}, "include": ["x"]})
    assert keys.exact_key(plain, route="r", scope="s") == keys.exact_key(codex, route="r", scope="s")
    verbose = request("q", extra={"text": {"verbosity": "high"}})  # this one does change the answer
    assert keys.exact_key(plain, route="r", scope="s") != keys.exact_key(verbose, route="r", scope="s")


def test_part_types_are_distinguished() -> None:
    a = request("q")
    b = request("q")
    b.messages[0] = Message("user", [ThinkingPart("q")])
    assert keys.exact_key(a, route="r", scope="s") != keys.exact_key(b, route="r", scope="s")


def test_semantic_text_only_for_plain_user_text() -> None:
    assert keys.semantic_text(request("  hi  ")) == "hi"
    tool_turn = request("x")
    tool_turn.messages[0] = Message("user", [ToolResultPart("c", [TextPart("out")])])
    assert keys.semantic_text(tool_turn) is None
    assistant_last = request("x")
    assistant_last.messages.append(Message("assistant", [TextPart("prefill")]))
    assert keys.semantic_text(assistant_last) is None


def test_a_cached_response_replays_as_a_stream() -> None:
    replay = pytest.importorskip("bifrostc.runtime.translate.replay")
    resp = ChatResponse("msg_r", "m", [TextPart("hi"), ToolCallPart("c1", "ls", "{}")], stop_reason="tool_use")
    events = replay.response_to_events(decode_response(encode_response(resp)))
    assert type(events[0]).__name__ == "MessageStart" and type(events[-1]).__name__ == "MessageStop"
