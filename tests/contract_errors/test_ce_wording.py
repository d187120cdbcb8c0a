"""Properties of the wording mapper (`transport/wording.py`) over arbitrary upstream messages: it never fails,
never invents a class for words it does not know, and leaves what Claude Code already matches as it is."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bifrostc.runtime.transport.wording import BEDROCK_TOO_LONG, TOKEN, capability_class, client_wording

CLASSES = {
    "mid_conv_system",
    "cache_control_field",
    "thinking_signature",
    "thinking_type:enabled",
    "thinking_type:adaptive",
    "structured_outputs_unsupported",
    "effort_unsupported",
    "media_budget",
    "image_block",
    "document_block",
    "prompt_too_long",
    "max_tokens_context_overflow",
}
STATUSES = st.sampled_from([400, 413, 422])


@given(STATUSES, st.text(max_size=300))
def test_any_message_maps_to_its_own_words_a_known_wording_or_a_contract_token(status: int, message: str) -> None:
    worded = client_wording(status, message)
    assert (
        worded == message
        or worded == BEDROCK_TOO_LONG
        or worded.startswith(("prompt is too long: ", "input length and `max_tokens` exceed context limit: "))
        or (worded.startswith(TOKEN) and worded.removeprefix(TOKEN) in CLASSES)
    )


@given(STATUSES, st.text(alphabet="abcdefghij klmnop,.", max_size=200))
def test_plain_words_without_a_known_phrase_are_left_alone(status: int, message: str) -> None:
    assert client_wording(status, message) == message


KNOWN = ["prompt is too long: 210000 tokens > 200000 maximum", "Input is too long for requested model."]


@given(st.sampled_from(KNOWN))
def test_what_claude_code_matches_already_passes_unchanged(message: str) -> None:
    assert capability_class(400, message) == "prompt_too_long"
    assert client_wording(400, message) == message


@pytest.mark.parametrize(
    "status, upstream, client",
    [
        (400, "Input is too long.", "Input is too long."),  # Bedrock: the client drops images, then compacts
        (400, "The request size (30037042 bytes) exceeds 30.000MB limit.", "Input is too long."),  # Vertex
        (400, "The message size (31000000 bytes) exceeds 30.000MB limit.", "Input is too long."),
        (
            400,
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            "prompt is too long: 1200000 tokens > 1048576 maximum",
        ),
        (
            400,
            "too many tokens: total number of tokens in the prompt cannot exceed 128000 - received 130000",
            "prompt is too long: 130000 tokens > 128000 maximum",
        ),
        (413, "prompt is too long: 300000 tokens > 200000 maximum", None),  # Claude Code's own words stay
        (400, "messages.3.content.0.thinking: Invalid `signature` in `thinking` block", None),
        (400, "string too long. Expected a string with maximum length 1048576", None),  # a field, not the prompt
    ],
)
def test_examples_of_each_familys_wording(status: int, upstream: str, client: str | None) -> None:
    assert client_wording(status, upstream) == (upstream if client is None else client)
