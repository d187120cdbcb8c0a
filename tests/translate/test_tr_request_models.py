"""Built upstream requests validate against the SDKs' own request parameter types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from anthropic.types import MessageCreateParams
from anthropic.types.beta import MessageCreateParams as BetaMessageCreateParams
from openai.types.chat import CompletionCreateParams
from pydantic import TypeAdapter

from bifrostc.runtime.translate import anthropic, openai

from .test_tr_openai_inbound import body as openai_request_body

OPENAI_PARAMS = TypeAdapter(CompletionCreateParams)
ANTHROPIC_PARAMS = TypeAdapter(MessageCreateParams)
BETA_PARAMS = TypeAdapter(BetaMessageCreateParams)  # context_management and tool search are beta fields


def validate(adapter: TypeAdapter[Any], value: dict[str, Any]) -> None:
    """SDK params type ``Iterable`` fields, which pydantic checks lazily: drain every one of them."""

    def drain(node: Any) -> None:
        if isinstance(node, dict):
            for item in node.values():
                drain(item)
        elif isinstance(node, list | tuple):
            for item in node:
                drain(item)
        elif isinstance(node, Iterator):
            for item in node:
                drain(item)

    drain(adapter.validate_python(value))


def test_validation_really_checks_nested_messages():
    with pytest.raises(ValueError, match="tool_call_id"):
        validate(OPENAI_PARAMS, {"model": "m", "messages": [{"role": "tool", "content": "x"}]})


def test_claude_code_request_builds_valid_openai_params(claude_code_request):
    validate(OPENAI_PARAMS, openai.build_request(anthropic.parse_request(claude_code_request), model="gpt-5"))


def test_claude_code_request_builds_valid_anthropic_params(claude_code_request):
    body = anthropic.build_request(anthropic.parse_request(claude_code_request), model="claude-opus-4-5")
    validate(BETA_PARAMS, body)


def test_openai_request_builds_valid_anthropic_and_openai_params():
    raw = openai_request_body(max_tokens=2048, reasoning_effort="medium", stream=True, response_format={"type": "text"})
    validate(ANTHROPIC_PARAMS, anthropic.build_request(openai.parse_request(raw), model="claude-sonnet-4-5"))
    validate(OPENAI_PARAMS, openai.build_request(openai.parse_request(raw), model="gpt-5"))
