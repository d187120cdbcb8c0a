"""count_tokens everywhere, with the Anthropic SDK: the provider's own counting API where one exists (Gemini's and
Vertex AI's countTokens, Bedrock's CountTokens), an estimate otherwise, and the answer's
``x-bifrostc-token-count-source`` header says which.

The fakes follow each API's documented request and refuse what it refuses: the Gemini API takes exactly one of
``contents`` or ``generateContentRequest`` (which must name its ``models/...``), Vertex AI the request's fields at
the top level (an unknown field is a 400), Bedrock ``{"input": {"converse": ...}}`` holding only the
ConverseTokensRequest fields (a ValidationException otherwise)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.wired import FakeUpstreams, Wired, base_spec, compile_gateway, sha256, wired_server

KEY = "sk-bfc-count-0123456789"
ENV = {"GEM_KEY": "g-key", "VTX_KEY": "v-key", "BR_KEY": "b-key", "OAI_KEY": "o-key"}
VERTEX_FIELDS = {"model", "contents", "systemInstruction", "tools", "generationConfig", "instances"}
CONVERSE_FIELDS = {"messages", "system", "toolConfig", "additionalModelRequestFields"}
COUNTED: list[tuple[str, dict[str, Any]]] = []


def _google_error(message: str) -> httpx.Response:
    return httpx.Response(400, json={"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


def _has_text(contents: Any) -> bool:
    return isinstance(contents, list) and any("text" in p for c in contents for p in c.get("parts", []))


async def gemini_api(request: httpx.Request) -> httpx.Response:
    found = re.fullmatch(r"/v1beta/models/([^/:]+):countTokens", request.url.path)
    assert found and request.headers.get("x-goog-api-key") == "g-key", request.url
    body = orjson.loads(request.content)
    COUNTED.append(("gemini", body))
    if ("contents" in body) == ("generateContentRequest" in body):
        return _google_error("Exactly one of contents or generate_content_request must be set.")
    inner = body.get("generateContentRequest", body)
    if "generateContentRequest" in body and inner.get("model") != f"models/{found.group(1)}":
        return _google_error("GenerateContentRequest.model: model is required and must match the request's model.")
    if not _has_text(inner.get("contents")):
        return _google_error("contents is not specified")
    return httpx.Response(200, json={"totalTokens": 1234, "promptTokensDetails": [{"modality": "TEXT"}]})


async def vertex_api(request: httpx.Request) -> httpx.Response:
    path = "/v1/projects/proj/locations/us-central1/publishers/google/models/gemini-3-pro-preview:countTokens"
    assert request.url.path == path, request.url
    body = orjson.loads(request.content)
    COUNTED.append(("vertex", body))
    unknown = set(body) - VERTEX_FIELDS
    if unknown:
        return _google_error(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}": Cannot find field.')
    if not _has_text(body.get("contents")):
        return _google_error("contents is not specified")
    return httpx.Response(200, json={"totalTokens": 77, "totalBillableCharacters": 300})


async def bedrock_api(request: httpx.Request) -> httpx.Response:
    assert request.url.path.endswith("/count-tokens") and request.headers["authorization"] == "Bearer b-key"
    body = orjson.loads(request.content)
    COUNTED.append(("bedrock", body))
    converse = (body.get("input") or {}).get("converse") if set(body) == {"input"} else None
    if not isinstance(converse, dict) or set(converse) - CONVERSE_FIELDS or not converse.get("messages"):
        headers = {"x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
        return httpx.Response(
            400, json={"message": "Malformed input request, please reformat your input"}, headers=headers
        )
    return httpx.Response(200, json={"inputTokens": 42})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    COUNTED.clear()
    spec = base_spec(tmp_path / "gw.db")
    spec["providers"] |= {
        "gem": {"type": "gemini", "base_url": "http://gemini.test/v1beta", "api_key_env": "GEM_KEY"},
        "vtx": {
            "type": "vertex",
            "base_url": "http://vertex.test",
            "api_key_env": "VTX_KEY",
            "options": {"project": "proj", "location": "us-central1"},
        },
        "br": {"type": "bedrock", "base_url": "http://bedrock.test", "api_key_env": "BR_KEY"},
        "oai": {"type": "openai", "base_url": "http://openai.test/v1", "api_key_env": "OAI_KEY"},
    }
    spec["models"] |= {
        "gem3": {"target": "gem/gemini-3-pro-preview"},
        "vtx3": {"target": "vtx/gemini-3-pro-preview"},
        "nova": {"target": "br/amazon.nova-pro-v1:0"},
        "gpt": {"target": "oai/gpt-5"},
    }
    spec["virtual_keys"] = [{"name": "dev", "key_sha256": sha256(KEY)}]
    upstreams = FakeUpstreams(**{"gemini.test": gemini_api, "vertex.test": vertex_api, "bedrock.test": bedrock_api})
    async with wired_server(compile_gateway(tmp_path, spec, ENV), ENV, transport=upstreams.transport()) as wired:
        yield wired


MESSAGES = [{"role": "user", "content": "How many tokens is this prompt?"}]
TOOLS = [{"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {}}}]


async def _count(served: Wired, model: str) -> tuple[int, str]:
    raw = await served.anthropic(KEY).messages.with_raw_response.count_tokens(
        model=model, messages=MESSAGES, system="Be brief.", tools=TOOLS
    )
    return (await raw.parse()).input_tokens, raw.headers["x-bifrostc-token-count-source"]


@pytest.mark.parametrize(
    ("model", "expected"), [("gem3", (1234, "gemini")), ("vtx3", (77, "vertex")), ("nova", (42, "bedrock"))]
)
async def test_the_providers_counting_api_answers_and_the_header_names_it(served: Wired, model: str, expected) -> None:
    assert await _count(served, model) == expected
    (family, body) = COUNTED[-1]
    if family == "bedrock":  # the prompt as Converse would send it: system and tools too
        assert body["input"]["converse"]["system"] and body["input"]["converse"]["toolConfig"]
    else:
        inner = body.get("generateContentRequest", body)
        assert inner["systemInstruction"] and inner["tools"]


async def test_without_a_counting_api_the_gateway_estimates_and_says_so(served: Wired) -> None:
    tokens, source = await _count(served, "gpt")
    assert source == "estimate-cl100k" and tokens > 0  # tiktoken with its shipped cl100k_base file


async def test_the_gemini_api_counts_with_the_same_estimate_and_says_so(served: Wired) -> None:
    """google-genai's count_tokens on a route without a Gemini counting API: the one prompt estimate."""
    from google import genai

    client = genai.Client(api_key=KEY, http_options={"base_url": f"{served.url}/genai", "api_version": "v1beta"})
    counted = await client.aio.models.count_tokens(model="gpt", contents="How many tokens is this prompt?")
    assert counted.total_tokens and 7 < counted.total_tokens < 25  # 7 tokens of text, in its message's JSON
    async with httpx.AsyncClient() as http:
        raw = await http.post(
            f"{served.url}/genai/v1beta/models/gpt:countTokens",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            headers={"x-goog-api-key": KEY},
        )
    assert raw.headers["x-bifrostc-token-count-source"] == "estimate-cl100k"
