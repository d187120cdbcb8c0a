"""Same-dialect passthrough relabels `model` in the upstream bytes and still parses usage.

(An in-place byte swap of the model value was tried and measured slower than orjson re-serialising:
0.76 vs 0.36 µs for a 246-byte body, 7.4 vs 1.25 µs for 20 KB; so the body is re-serialised.)"""

from __future__ import annotations

import orjson
import pytest

from bifrostc.runtime.dialects.openai_chat import OpenAIChat

BODY = {
    "id": "c1",
    "object": "chat.completion",
    "model": "gpt-up",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": 'say "model":"gpt-up"'}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


@pytest.mark.parametrize("raw", [orjson.dumps(BODY), orjson.dumps(BODY, option=orjson.OPT_INDENT_2)])
def test_relabelled_body_and_parsed_usage(raw: bytes) -> None:
    content, parsed = OpenAIChat().relabel(raw, "public")
    assert orjson.loads(content) == {**BODY, "model": "public"}
    assert parsed is not None and parsed.model == "public"
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (3, 2)
