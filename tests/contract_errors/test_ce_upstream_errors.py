"""Upstream errors in Claude Code's terms, at the HTTP surface with the official SDKs (issue 22 items 1 and 2).

An Anthropic upstream's error body reaches an Anthropic client byte-for-byte as JSON; another family's 400 reaches
it in the words Claude Code's recovery matches; `x-should-retry` and `retry-after` reach both dialects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.integration.wired import FakeUpstreams, Wired, base_spec, compile_gateway, sha256, user, wired_server

KEY = "sk-bfc-errors-0123456789"
ENV = {"UP_ANTH": "sk-ant-upstream-secret", "UP_OAI": "sk-oai-upstream-secret"}
NO_RETRY = {"max_retries": 0}

# The exact body api.anthropic.com sends (with a request_id and a field the gateway does not know).
ANTHROPIC_400 = {
    "type": "error",
    "error": {"type": "invalid_request_error", "message": "messages.1.content.0.thinking.signature: Field required"},
    "request_id": "req_011CUpstream",
}


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"] |= {
        "anth": {"type": "anthropic", "base_url": "http://anth.test", "api_key_env": "UP_ANTH", "network": NO_RETRY},
        "oai": {"type": "openai", "base_url": "http://oai.test/v1", "api_key_env": "UP_OAI", "network": NO_RETRY},
    }
    spec["models"] |= {"claude": {"target": "anth/claude-up"}, "gpt": {"target": "oai/gpt-up"}}
    spec["virtual_keys"] = [{"name": "dev", "key_sha256": sha256(KEY)}]
    return spec


class Script:
    """What each fake upstream answers next: (status, JSON body, headers)."""

    def __init__(self) -> None:
        self.reply: tuple[int, dict[str, Any], dict[str, str]] = (500, {}, {})

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        status, body, headers = self.reply
        return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
async def served(tmp_path: Path, script: Script) -> AsyncIterator[Wired]:
    upstreams = FakeUpstreams(**{"anth.test": script, "oai.test": script})
    async with wired_server(compile_gateway(tmp_path, _spec(tmp_path)), ENV, transport=upstreams.transport()) as w:
        yield w


def openai_error(message: str, code: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def _anthropic_call(wired: Wired, model: str, *, stream: bool = False) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as caught:
        if stream:
            async with wired.anthropic(KEY).messages.stream(model=model, max_tokens=8, messages=user("hi")) as s:
                await s.get_final_message()
        else:
            await wired.anthropic(KEY).messages.create(model=model, max_tokens=8, messages=user("hi"))
    return caught.value


async def _openai_call(wired: Wired, model: str) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        await wired.openai(KEY).chat.completions.create(model=model, messages=user("hi"))
    return caught.value


@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
async def test_an_anthropic_upstreams_error_body_reaches_the_client_unchanged(
    served: Wired, script: Script, stream: bool
) -> None:
    script.reply = (400, ANTHROPIC_400, {"x-should-retry": "false", "request-id": "req_011CUpstream"})
    error = await _anthropic_call(served, "claude", stream=stream)
    assert error.status_code == 400
    assert json.loads(error.response.content) == ANTHROPIC_400  # no "<provider> returned HTTP 400: " prefix
    assert error.response.headers["x-should-retry"] == "false"
    relayed = await _openai_call(served, "claude")  # an OpenAI client gets the same words in OpenAI's shape
    assert relayed.body == {  # type: ignore[comparison-overlap]
        "message": ANTHROPIC_400["error"]["message"],
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert relayed.response.headers["x-should-retry"] == "false"


async def test_an_overloaded_anthropic_upstream_keeps_its_type_and_its_retry_header(
    served: Wired, script: Script
) -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    script.reply = (529, body, {"x-should-retry": "true", "retry-after-ms": "1500"})
    error = await _anthropic_call(served, "claude")
    assert (error.status_code, json.loads(error.response.content)) == (529, body)
    assert error.response.headers["x-should-retry"] == "true"
    assert error.response.headers["retry-after"] == "2"  # whole seconds, rounded up


@pytest.mark.parametrize(
    "upstream, client",
    [
        (
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 "
            "tokens. Please reduce the length of the messages.",
            "prompt is too long: 130512 tokens > 128000 maximum",
        ),
        (
            "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (7000 in the "
            "messages, 2000 in the completion). Please reduce the length of the messages or completion.",
            "input length and `max_tokens` exceed context limit: 7000 + 2000 > 8192, decrease input length or "
            "`max_tokens` and try again",
        ),
        (
            "Your input exceeds the context window of this model. Please adjust your input and try again.",
            "prompt is too long: Your input exceeds the context window of this model. Please adjust your input "
            "and try again.",
        ),
        (
            "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
            "capability_rejected: effort_unsupported",
        ),
        (
            "Invalid content type. image_url is only supported by certain models.",
            "capability_rejected: image_block",
        ),
        ("Invalid value for 'temperature': must be at most 2.", "Invalid value for 'temperature': must be at most 2."),
    ],
    ids=["overflow", "max-tokens-overflow", "responses-overflow", "effort", "image", "other"],
)
async def test_an_openai_family_400_reads_in_claude_codes_words(
    served: Wired, script: Script, upstream: str, client: str
) -> None:
    script.reply = (400, openai_error(upstream, "context_length_exceeded"), {})
    error = await _anthropic_call(served, "gpt")
    assert error.status_code == 400
    assert json.loads(error.response.content) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": client},
    }


async def test_an_upstream_401_tells_the_client_not_to_retry(served: Wired, script: Script) -> None:
    script.reply = (401, openai_error("Incorrect API key provided", "invalid_api_key"), {})
    error = await _anthropic_call(served, "gpt")
    assert (error.status_code, error.response.headers["x-should-retry"]) == (401, "false")
    assert error.body["error"]["message"] == "oai returned HTTP 401: Incorrect API key provided"  # type: ignore[index]
    relayed = await _openai_call(served, "gpt")
    assert (relayed.status_code, relayed.response.headers["x-should-retry"]) == (401, "false")


async def test_a_server_error_names_the_provider_and_leaves_retrying_to_the_client(
    served: Wired, script: Script
) -> None:
    script.reply = (503, openai_error("The server is overloaded", kind="server_error"), {"retry-after": "7"})
    error = await _anthropic_call(served, "gpt")
    assert error.status_code == 503 and error.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert error.body["error"]["message"] == "oai returned HTTP 503: The server is overloaded"  # type: ignore[index]
    assert error.response.headers["retry-after"] == "7" and "x-should-retry" not in error.response.headers
