"""The per-request observability work after the performance pass behaves exactly as before, only cheaper."""

from __future__ import annotations

import dataclasses
import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bifrostc.runtime import config
from bifrostc.runtime.context import LogRecord, RequestContext
from bifrostc.runtime.governance.pricing import PriceBook, cost_usd
from bifrostc.runtime.observability import records, redaction
from bifrostc.runtime.observability.log_hooks import record_from_log
from bifrostc.runtime.observability.metrics import GatewayMetrics
from bifrostc.runtime.observability.records import RequestRecord, plain, redact_text
from bifrostc.runtime.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

MESSAGES = [
    Message(role="user", content=[TextPart("hi", cache_control={"type": "ephemeral"}), ImagePart("image/png", "QUJD")]),
    Message(role="assistant", content=[ThinkingPart("hmm", signature="sig"), ToolCallPart("t1", "read", '{"a": 1}')]),
    Message(role="user", content=[ToolResultPart("t1", [TextPart("file body")], is_error=True)]),
]


def test_plain_serialises_like_dataclasses_asdict():
    assert orjson.dumps(plain(MESSAGES)) == orjson.dumps([dataclasses.asdict(m) for m in MESSAGES])
    assert plain({"k": (1, "x", None)}) == {"k": [1, "x", None]}


def _reference_redact_text(text: str) -> str:
    for pattern, replacement in redaction._SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


MARKERS = st.sampled_from(["sk-", "Bearer ", "bEaReR ", "AKIA", "ASIA", "AIza", "x", " ", "_-", "0123456789ABCDEF"])


@given(st.lists(st.one_of(MARKERS, st.text(max_size=8)), max_size=12).map("".join))
def test_the_substring_prefilter_never_skips_a_secret_the_patterns_would_catch(text: str):
    assert redact_text(text) == _reference_redact_text(text)


def test_redaction_catches_any_case_of_bearer():
    assert "abc.def" not in redact_text("Authorization: BEARER abc.def")
    assert redact_text("plain text, nothing to hide") == "plain text, nothing to hide"


def test_scrub_redacts_in_place_or_drops_bodies():
    record = RequestRecord(request_messages=[{"api_key": "k", "t": "sk-live-123456789"}], error_message="Bearer zz9")
    assert record.scrub() is record
    assert record.request_messages == [{"api_key": records.REDACTED, "t": "sk-" + records.REDACTED}]
    assert record.error_message is not None and "zz9" not in record.error_message
    quiet = RequestRecord(request_messages=["hi"], response_content=["yo"]).scrub(keep_bodies=False)
    assert (quiet.request_messages, quiet.response_content) == (None, None)


def _log() -> LogRecord:
    usage = Usage(input_tokens=1_000, output_tokens=500)
    ctx = RequestContext(dialect="openai", endpoint="chat", route="r", provider="openai", upstream_model="gpt-4o")
    ctx.usage = usage
    request = ChatRequest(model="r", messages=MESSAGES, system=[TextPart("be brief")])
    response = ChatResponse(id="m", model="gpt-4o", content=[TextPart("ok")], usage=usage)
    return LogRecord(ctx, 0.1, request, response)


def test_record_from_log_bodies_match_asdict_and_are_skipped_when_off():
    record = record_from_log(_log(), full_history=True)
    expected = [{"role": "system", "content": [dataclasses.asdict(TextPart("be brief"))]}]
    expected += [dataclasses.asdict(m) for m in MESSAGES]
    assert orjson.dumps(record.request_messages) == orjson.dumps(expected)
    quiet = record_from_log(_log(), log_bodies=False)
    assert (quiet.request_messages, quiet.response_content) == (None, None)
    assert quiet.tools_count == 0 and quiet.requested_model == "r"


def test_the_price_book_gives_the_uncached_cost_and_follows_spec_overrides():
    overrides = {"openai/gpt-4o": config.Price(input=1.0, output=2.0)}
    prices = PriceBook(overrides)
    log = _log()
    first = record_from_log(log, prices=prices)
    again = record_from_log(log, prices=prices)
    assert first.cost_usd == again.cost_usd == pytest.approx(cost_usd("openai", "gpt-4o", log.context.usage, overrides))
    assert first.cost_usd != record_from_log(log).cost_usd  # the built-in table's price differs
    assert prices.price("openai", "gpt-4o") is overrides["openai/gpt-4o"]


def test_metrics_children_are_reused_and_still_count_per_label_set():
    metrics = GatewayMetrics()
    for status in (200, 200, 529):
        metrics.observe(RequestRecord(dialect="openai", route="r", provider="p", status=status, latency_ms=5.0))
    text = metrics.render().decode()
    assert re.search(r'bifrostc_requests_total\{[^}]*status="200"[^}]*\} 2\.0', text)
    assert re.search(r'bifrostc_requests_total\{[^}]*status="529"[^}]*\} 1\.0', text)
    assert 'bifrostc_request_duration_seconds_count{dialect="openai",provider="p",route="r"} 3.0' in text


def test_an_upstreams_words_about_a_bearer_token_are_not_one():
    # Anthropic's 401 for a refused OAuth token reaches Claude Code unchanged (it then offers /login again).
    assert redact_text("Invalid bearer token") == "Invalid bearer token"
    assert redact_text("Invalid bearer token.") == "Invalid bearer token."
    assert "token.abc" not in redact_text("Bearer token.abc") and "tokenXYZ" not in redact_text("Bearer tokenXYZ")


def test_long_texts_that_share_their_ends_are_redacted_each_on_its_own():
    # The memo of long texts is keyed by length and ends (observability/text_keys.py); a hit compares the whole.
    pad, clean, secret = "p" * 3000, " nothing to hide.. ", " sk-ant-0123456789 "
    assert len(clean) == len(secret)
    assert redact_text(pad + clean + pad) == pad + clean + pad
    leaked = redact_text(pad + secret + pad)
    assert leaked == pad + " sk-[REDACTED] " + pad
    assert redact_text(pad + clean + pad) == pad + clean + pad
