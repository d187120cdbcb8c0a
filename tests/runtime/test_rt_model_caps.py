"""Requests are fitted to what an OpenAI-style model accepts (reasoning_effort, completion budget)."""

from __future__ import annotations

import pytest

from bifrostc.runtime.config import OpenAIOptions, Provider
from bifrostc.runtime.providers.model_caps import fit_to_model

OPENAI = Provider(name="openai", type="openai", base_url="https://api.openai.com/v1")


@pytest.mark.parametrize(
    ("model", "keeps_effort", "budget"),
    [
        ("gpt-4o", False, 16_384),
        ("gpt-4o-mini", False, 16_384),
        ("gpt-4.1", False, 32_000),
        ("gpt-5", True, 32_000),
        ("gpt-5-chat-latest", False, 32_000),
        ("o4-mini", True, 32_000),
        ("openai/gpt-oss-120b", True, 32_000),
        ("llama-3.3-70b-versatile", False, 32_000),
    ],
)
def test_claude_code_sized_request_fits_the_model(model: str, keeps_effort: bool, budget: int) -> None:
    body: dict[str, object] = {"model": model, "max_completion_tokens": 32_000, "reasoning_effort": "high"}
    fit_to_model(body, OPENAI, model, "max_completion_tokens")
    assert ("reasoning_effort" in body) is keeps_effort
    assert body["max_completion_tokens"] == budget


def test_provider_options_override_the_heuristics() -> None:
    provider = Provider(
        name="vllm",
        type="vllm",
        base_url="http://127.0.0.1:8000/v1",
        options=OpenAIOptions(reasoning_effort=True, max_output_tokens=4096),
    )
    body: dict[str, object] = {"max_tokens": 32_000, "reasoning_effort": "low"}
    fit_to_model(body, provider, "my-finetune", "max_tokens")
    assert body == {"max_tokens": 4096, "reasoning_effort": "low"}
