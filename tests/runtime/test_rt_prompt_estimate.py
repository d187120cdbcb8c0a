"""The prompt estimate (count_tokens without a counting API, routing rules' input_tokens, the context_window
check): cl100k_base from tiktoken's shipped file, read offline and checked against tiktoken's pinned hash."""

from __future__ import annotations

import json
import pathlib
import socket
from typing import Any

import pytest

from bifrostc.runtime.dialects import relay, tokenizer
from bifrostc.runtime.types import ChatRequest, ImagePart, Message, TextPart, ThinkingPart

FIXTURE = pathlib.Path(__file__).parents[1] / "fixtures" / "claude_code" / "tool-turn-2.json"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> pathlib.Path:
    """Any connection attempt fails the test; tiktoken's download cache points at an empty directory."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the tokenizer tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_cl100k_is_loaded_offline_from_the_shipped_file(no_network: pathlib.Path) -> None:
    tokenizer.encoder.cache_clear()
    enc = tokenizer.encoder()
    assert enc is not None and tokenizer.source() == "estimate-cl100k"
    assert enc.encode_ordinary("hello world") == [15339, 1917]  # cl100k_base's ids, as tiktoken publishes them
    assert list(no_network.iterdir()) == []  # nothing went through tiktoken's download cache


def test_a_file_that_is_not_tiktokens_falls_back_to_bytes(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    forged = tmp_path / "data" / "cl100k_base.tiktoken"
    forged.parent.mkdir()
    forged.write_bytes(b"aGVsbG8= 0\n")
    monkeypatch.setattr(tokenizer, "_bpe_file", lambda: forged)
    tokenizer.encoder.cache_clear()
    try:
        assert tokenizer.encoder() is None and tokenizer.source() == "estimate-bytes"
        message = {"role": "user", "content": "x" * 400}
        assert relay.prompt_estimate({"messages": [message]}) == 107  # the message as JSON (428 bytes) / 4
    finally:
        tokenizer.encoder.cache_clear()


def test_the_estimate_counts_text_not_signatures_or_image_bytes() -> None:
    text = {"role": "user", "content": "The quick brown fox jumps over the lazy dog."}
    base = relay.prompt_estimate({"messages": [text]})
    signed = {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "E" * 4000}]}
    assert relay.prompt_estimate({"messages": [text, signed]}) - base < 20
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 200_000}}
    with_image = relay.prompt_estimate({"messages": [{"role": "user", "content": [image]}, text]})
    assert tokenizer.IMAGE_TOKENS <= with_image - base < tokenizer.IMAGE_TOKENS + 30
    chat = ChatRequest(
        model="m",
        messages=[Message("user", [TextPart("hi"), ImagePart("image/png", "A" * 100_000)])],
        system=[TextPart("Be brief.")],
    )
    chat.messages.append(Message("assistant", [ThinkingPart("ok", "S" * 5000), TextPart("hello")]))
    assert tokenizer.IMAGE_TOKENS < relay.request_estimate(chat) < tokenizer.IMAGE_TOKENS + 120


def test_a_claude_code_body_is_estimated_near_its_tokens_and_cached_per_piece() -> None:
    body = json.loads(FIXTURE.read_text())["body"]
    estimate = relay.prompt_estimate(body)
    raw = len(json.dumps(body, separators=(",", ":")))
    assert raw / 6 < estimate < raw / 3.5  # cl100k on JSON-wrapped prose and schemas: 4-5 bytes a token
    tokenizer._counted.clear()
    assert relay.prompt_estimate(body) == estimate
    assert len(tokenizer._counted) == 2 + len(body["messages"])  # system, tools, each turn: each counted once
    later = {**body, "messages": [*body["messages"], {"role": "user", "content": "and the tests?"}]}
    assert relay.prompt_estimate(later) > estimate and len(tokenizer._counted) == 3 + len(body["messages"])


async def test_the_table_is_read_before_serving_only_by_gateways_that_estimate_every_request() -> None:
    """Issue 15 (idle RSS, start-up): the BPE table costs ~40 MB and ~0.2 s, so a gateway that only estimates
    for count_tokens reads it at the first such request, in a worker thread; one with a context window reads it
    before serving, so no request waits for it."""
    import dataclasses

    import anthropic
    from rt_fakes import Upstream, app_for, gateway, provider, sdk_http_client

    plain = gateway([provider("mock", "mock")], {"quick": [("mock", "mock-1")]}, tiers={"sonnet": "quick"})
    tokenizer.encoder.cache_clear()
    app = app_for(plain, Upstream())
    async with app.router.lifespan_context(app):
        assert not tokenizer.loaded()
        claude = anthropic.AsyncAnthropic(
            base_url="http://localhost/anthropic", api_key="x", http_client=sdk_http_client(app)
        )
        counted = await claude.messages.with_raw_response.count_tokens(
            model="sonnet", messages=[{"role": "user", "content": "hello world"}]
        )
        assert counted.headers["x-bifrostc-token-count-source"] == "estimate-cl100k" and tokenizer.loaded()

    windowed = dataclasses.replace(
        plain, routes={"quick": dataclasses.replace(plain.routes["quick"], context_window=100_000)}
    )
    tokenizer.encoder.cache_clear()
    app = app_for(windowed, Upstream())
    async with app.router.lifespan_context(app):
        assert tokenizer.loaded()


def test_a_relayed_body_too_deep_to_serialize_is_still_estimated() -> None:
    """The bill's estimate of a relayed prompt the gateway never serialized (relay_parse checks only the new turn):
    its texts and items counted without orjson, whose writer stops at 254 levels."""
    deep: object = "x" * 4000
    for _ in range(400):
        deep = [deep]
    assert relay.estimate_tokens({"messages": [deep]}) == (4000 + 402) // relay.CHARS_PER_TOKEN
