"""Syrupy snapshots of translated payloads: review the .ambr diff when a translation changes on purpose."""

from __future__ import annotations

from bifrostc.runtime.translate import anthropic, openai

from .conftest import load_fixture
from .streams import encode_anthropic, encode_openai, parse_anthropic_events, parse_openai_chunks
from .test_tr_openai_inbound import body as openai_request_body
from .test_tr_streams import REASONING_TEXT_AND_PARALLEL_TOOLS


def test_claude_code_request_to_openai_upstream(claude_code_request, snapshot):
    assert openai.build_request(anthropic.parse_request(claude_code_request), model="gpt-5") == snapshot


def test_claude_code_request_to_anthropic_upstream(claude_code_request, snapshot):
    assert anthropic.build_request(anthropic.parse_request(claude_code_request), model="claude-opus-4-5") == snapshot


def test_openai_request_to_anthropic_upstream(snapshot):
    raw = openai_request_body(max_tokens=2048, reasoning_effort="medium", stream=True)
    assert anthropic.build_request(openai.parse_request(raw), model="claude-sonnet-4-5") == snapshot


def test_openai_completion_to_anthropic_message(snapshot):
    assert anthropic.build_response(openai.parse_response(load_fixture("openai_completion_tools.json"))) == snapshot


def test_anthropic_message_to_openai_completion(snapshot):
    resp = anthropic.parse_response(load_fixture("anthropic_message.json"))
    assert openai.build_response(resp, created=1_700_000_000) == snapshot


def test_openai_stream_to_anthropic_sse(snapshot):
    assert encode_anthropic(parse_openai_chunks(REASONING_TEXT_AND_PARALLEL_TOOLS)).decode() == snapshot


def test_anthropic_stream_to_openai_sse(snapshot):
    assert encode_openai(parse_anthropic_events(load_fixture("anthropic_stream.json"))).decode() == snapshot
