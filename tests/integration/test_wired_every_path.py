"""Every chat path every registered dialect serves, walked with one budgeted key through the wired gateway: each
request is admitted, charged to the key's budget, logged under the key with its dialect, and counted in
/metrics. Paths come from the registry (`dialects.DIALECTS`), so a new dialect is walked without editing this
test, and one with no sample body below fails it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bifrostc.runtime.dialects import DIALECTS, Endpoint
from tests.integration.wired import Wired, base_spec, budget_row, compile_gateway, sha256, wired_server

KEY = "sk-bfc-walker-0123456789abcdef"
CHEAP = "sk-bfc-cheap-0123456789abcdef"


def _body(dialect: str, stream: bool) -> dict[str, Any]:
    """One small request in each dialect's own shape (max 1 output token, so the $1-a-token budget math holds)."""
    if dialect == "anthropic":
        return {"model": "echo", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    if dialect == "openai":
        body = {"model": "echo", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        return body | ({"stream_options": {"include_usage": True}} if stream else {})
    if dialect == "responses":
        return {"model": "echo", "max_output_tokens": 16, "input": "hi", "stream": stream, "store": False}
    if dialect == "gemini":
        return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 1}}
    if dialect == "bedrock":
        return {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 1}}
    if dialect in ("bedrock-invoke", "vertex-anthropic"):
        version = "bedrock-2023-05-31" if dialect == "bedrock-invoke" else "vertex-2023-10-16"
        return {"anthropic_version": version, "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
    raise AssertionError(f"no sample body for dialect {dialect!r}: add one here")


def _calls() -> list[tuple[str, Endpoint, bool]]:
    return [
        (dialect.name, endpoint, stream)
        for dialect in DIALECTS
        for endpoint in dialect.endpoints
        for stream in ((False, True) if endpoint.stream is None else (endpoint.stream,))
    ]


def _url(endpoint: Endpoint, stream: bool) -> str:
    path = endpoint.path.replace("{model:path}", "echo").replace("{model}", "echo")
    path = path.replace("{project}", "p").replace("{location}", "us-east5")
    return path + ("?alt=sse" if stream and endpoint.stream else "")


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["admin_key_env"] = "ADMIN_KEY"
    spec["virtual_keys"] = [
        {"name": "walker", "key_sha256": sha256(KEY), "budget": {"max_usd": 10_000, "period": "never"}},
        {"name": "cheap", "key_sha256": sha256(CHEAP), "budget": {"max_usd": 1, "period": "never"}},
    ]
    return spec


@pytest.fixture
async def served(tmp_path: Path):
    env = {"ADMIN_KEY": "admin-0123456789"}
    async with wired_server(compile_gateway(tmp_path, _spec(tmp_path)), env) as wired:
        yield wired


async def test_every_served_path_is_admitted_charged_and_logged(served: Wired) -> None:
    calls = _calls()
    assert {name for name, _, _ in calls} >= {
        "anthropic",
        "openai",
        "responses",
        "gemini",
        "bedrock",
        "vertex-anthropic",
    }
    for name, endpoint, stream in calls:
        response = await served.http.post(
            served.url + _url(endpoint, stream), json=_body(name, stream), headers={"authorization": f"Bearer {KEY}"}
        )
        assert response.status_code == 200, (endpoint.path, stream, response.text)
    rows = await served.logs(len(calls))
    walked = [r for r in rows if r["virtual_key"] == "walker"]
    assert len(walked) == len(calls)
    assert sorted((r["dialect"], r["stream"]) for r in walked) == sorted((n, s) for n, _, s in calls)
    assert all(r["status"] == 200 and r["cost_usd"] > 0 for r in walked), walked
    spent = budget_row(await served.spend(), "key", "walker")["spent_usd"]
    assert spent == pytest.approx(sum(r["cost_usd"] for r in walked))
    metrics = (await served.http.get(f"{served.url}/metrics", headers={"x-admin-key": "admin-0123456789"})).text
    for name in {n for n, _, _ in calls}:
        assert f'dialect="{name}"' in metrics


@pytest.mark.parametrize("carrier", ["x-goog-api-key", "query", "bearer"])
async def test_gemini_paths_take_the_key_every_way_google_clients_send_it(served: Wired, carrier: str) -> None:
    headers = {"x-goog-api-key": KEY} if carrier == "x-goog-api-key" else {}
    headers |= {"authorization": f"Bearer {KEY}"} if carrier == "bearer" else {}
    query = f"?key={KEY}" if carrier == "query" else ""
    base = f"{served.url}/v1beta/models/echo"
    body = _body("gemini", False)
    whole = await served.http.post(f"{base}:generateContent{query}", json=body, headers=headers)
    sep = "&" if query else "?"
    streamed = await served.http.post(f"{base}:streamGenerateContent{query}{sep}alt=sse", json=body, headers=headers)
    counted = await served.http.post(f"{base}:countTokens{query}", json=body, headers=headers)
    listed = await served.http.get(f"{served.url}/genai/v1beta/models{query}", headers=headers)
    assert [r.status_code for r in (whole, streamed, counted, listed)] == [200, 200, 200, 200]
    assert streamed.text.startswith("data: ") and counted.json()["totalTokens"] > 0
    rows = await served.logs(2)
    assert [r["virtual_key"] for r in rows] == ["walker", "walker"]
    assert KEY not in json.dumps(rows)


async def test_gemini_refusals_are_googles_errors(served: Wired) -> None:
    base = f"{served.url}/genai/v1beta/models/echo"
    anonymous = await served.http.post(f"{base}:generateContent", json=_body("gemini", False))
    wrong = await served.http.post(f"{base}:generateContent?key=sk-bfc-nobody", json=_body("gemini", False))
    listed = await served.http.get(f"{served.url}/genai/v1beta/models")
    assert [r.status_code for r in (anonymous, wrong, listed)] == [401, 401, 401]
    assert {r.json()["error"]["status"] for r in (anonymous, wrong, listed)} == {"UNAUTHENTICATED"}
    # $1 at $1 an output token: the first answer spends it, the next is refused in Google's shape.
    cheap = {"x-goog-api-key": CHEAP}
    first = await served.http.post(f"{base}:generateContent", json=_body("gemini", False), headers=cheap)
    second = await served.http.post(f"{base}:generateContent", json=_body("gemini", False), headers=cheap)
    assert first.status_code == 200
    assert second.status_code == 429 and second.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_gemini_answers_are_cached_like_any_other(tmp_path: Path) -> None:
    spec = _spec(tmp_path) | {"cache": {"mode": "exact"}}
    async with wired_server(compile_gateway(tmp_path, spec)) as wired:
        url = f"{wired.url}/genai/v1beta/models/echo:generateContent"
        first = await wired.http.post(url, json=_body("gemini", False), headers={"x-goog-api-key": KEY})
        again = await wired.http.post(url, json=_body("gemini", False), headers={"x-goog-api-key": KEY})
        streamed = await wired.http.post(
            url.replace(":generateContent", ":streamGenerateContent?alt=sse"),
            json=_body("gemini", False),
            headers={"x-goog-api-key": KEY},
        )
    assert first.status_code == again.status_code == 200 and "x-bifrostc-cache" not in first.headers
    assert again.headers["x-bifrostc-cache"] == "hit" and again.json()["candidates"] == first.json()["candidates"]
    assert streamed.headers["x-bifrostc-cache"] == "hit" and streamed.text.startswith("data: ")
