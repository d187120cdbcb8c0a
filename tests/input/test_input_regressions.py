"""The bad inputs the fault campaign (issue 10, item 7 and item 1's parse half) saw get a 5xx or a reset, through a
real server (uvicorn, the fully wired gateway, its SQLite request log): each is now a 400 in the caller's dialect,
naming the field, with a log row, and the log keeps writing after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.wired import FakeUpstreams, Wired, base_spec, compile_gateway, wired_server

from .surface import anthropic_upstream, assert_dialect_error, openai_upstream

KEY = "sk-bfc-input-0123456789abcdef"
ENV = {"IN_KEY": KEY, "ADMIN_KEY": "admin-0123456789", "OAI_KEY": "sk-up-oai-0123", "ANT_KEY": "sk-up-ant-0123"}
CHAT, RESPONSES, MESSAGES = "/v1/chat/completions", "/v1/responses", "/anthropic/v1/messages"
HI = [{"role": "user", "content": "hi"}]
INT64_OVERFLOW = 2**63  # 9223372036854775808: fits orjson's u64, not SQLite's or PostgreSQL's int64


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["admin_key_env"] = "ADMIN_KEY"
    spec["providers"]["oai"] = {"type": "openai", "base_url": "http://oai.test/v1", "api_key_env": "OAI_KEY"}
    spec["providers"]["ant"] = {"type": "anthropic", "base_url": "http://ant.test", "api_key_env": "ANT_KEY"}
    spec["models"]["gpt"] = {"target": "oai/gpt-up"}
    spec["models"]["claude"] = {"target": "ant/claude-up"}
    spec["virtual_keys"] = [{"name": "input", "key_env": "IN_KEY"}]
    return spec


async def _reply(handler: Any, request: httpx.Request) -> httpx.Response:
    return handler(request)


@pytest.fixture
async def served(tmp_path: Path):
    gateway = compile_gateway(tmp_path, _spec(tmp_path), ENV)
    upstreams = FakeUpstreams(
        **{"oai.test": lambda r: _reply(openai_upstream, r), "ant.test": lambda r: _reply(anthropic_upstream, r)}
    )
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        yield wired


async def _post(wired: Wired, path: str, raw: bytes) -> httpx.Response:
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    return await wired.http.post(f"{wired.url}{path}", content=raw, headers=headers)


async def _refused(wired: Wired, path: str, body: Any, message: str) -> None:
    """``body`` gets a 400 in ``path``'s dialect whose message contains ``message``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await _post(wired, path, raw)
    assert response.status_code == 400, (response.status_code, response.text)
    assert_dialect_error(path, response)
    error = response.json()["error"]
    assert message in error["message"], error
    assert error["type"] == "invalid_request_error"


def _nested(depth: int) -> bytes:
    return b"[" * depth + b'"x"' + b"]" * depth


def _deep(path: str, model: str, depth: int) -> bytes:
    """A valid request with ``depth`` nested arrays in one field: the body is ``depth`` + 1 levels deep."""
    body: dict[str, Any] = {"model": model, "max_tokens": 16, "messages": HI, "metadata": "DEEP"}
    if path == RESPONSES:
        body = {"model": model, "input": "hi", "metadata": "DEEP"}
    return json.dumps(body).encode().replace(b'"DEEP"', _nested(depth))


@pytest.mark.parametrize("depth", [254, 600, 1023])
@pytest.mark.parametrize(("path", "model"), [(CHAT, "gpt"), (CHAT, "claude"), (MESSAGES, "claude"), (RESPONSES, "gpt")])
async def test_json_nested_255_to_1024_levels_deep_is_a_400_and_logged(
    served: Wired, path: str, model: str, depth: int
):
    await _refused(served, path, _deep(path, model, depth), "nested deeper than 254 levels")
    rows = await served.logs(1)
    assert rows[0]["status"] == 400


async def test_json_nested_254_levels_deep_is_served(served: Wired):
    response = await _post(served, CHAT, _deep(CHAT, "gpt", 253))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("effort", [3, ["high"], {"level": "high"}, True])
async def test_a_non_string_reasoning_effort_is_a_400_on_the_translated_path(served: Wired, effort: Any):
    body = {"model": "claude", "messages": HI, "reasoning_effort": effort}
    await _refused(served, CHAT, body, "reasoning_effort: expected a string")
    body = {"model": "gpt", "max_tokens": 16, "messages": HI, "output_config": {"effort": effort}}
    await _refused(served, MESSAGES, body, "output_config.effort: expected a string")
    await _refused(served, RESPONSES, {"model": "claude", "input": "hi", "reasoning": {"effort": effort}}, "effort")
    assert [r["status"] for r in await served.logs(3)] == [400, 400, 400]


@pytest.mark.parametrize("user", [42, ["u"], {"id": "u"}, False])
async def test_a_non_string_user_is_a_400_on_the_translated_path(served: Wired, user: Any):
    await _refused(served, CHAT, {"model": "claude", "messages": HI, "user": user}, "user: expected a string")
    await _refused(served, RESPONSES, {"model": "gpt", "input": "hi", "user": user}, "user: expected a string")
    body = {"model": "gpt", "max_tokens": 16, "messages": HI, "metadata": {"user_id": user}}
    await _refused(served, MESSAGES, body, "metadata.user_id: expected a string")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (MESSAGES, {"model": "claude", "max_tokens": INT64_OVERFLOW, "messages": HI}, "max_tokens"),
        (MESSAGES, {"model": "gpt", "max_tokens": INT64_OVERFLOW, "messages": HI}, "max_tokens"),
        (CHAT, {"model": "gpt", "max_tokens": INT64_OVERFLOW, "messages": HI}, "max_tokens"),
        (CHAT, {"model": "claude", "max_completion_tokens": INT64_OVERFLOW, "messages": HI}, "max_completion_tokens"),
        (RESPONSES, {"model": "gpt", "input": "hi", "max_output_tokens": INT64_OVERFLOW}, "max_output_tokens"),
        (MESSAGES, {"model": "claude", "max_tokens": 16, "top_k": INT64_OVERFLOW, "messages": HI}, "top_k"),
        (MESSAGES, {"model": "claude", "max_tokens": -1, "messages": HI}, "max_tokens"),
        (CHAT, {"model": "gpt", "max_tokens": 1e20, "messages": HI}, "max_tokens: expected an integer"),
        (CHAT, {"model": "gpt", "max_tokens": 2**64, "messages": HI}, "max_tokens: expected an integer"),
    ],
)
async def test_out_of_range_integers_are_a_400_and_the_log_keeps_writing(served: Wired, path: str, body, field: str):
    await _refused(served, path, body, field)
    response = await _post(served, MESSAGES, json.dumps({"model": "claude", "max_tokens": 16, "messages": HI}).encode())
    assert response.status_code == 200, response.text
    rows = await served.logs(2)
    assert [r["status"] for r in rows] == [200, 400]  # newest first: the writer is alive after the bad one
    assert rows[1]["max_tokens"] is None


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (MESSAGES, {"model": "claude", "max_tokens": 16, "messages": [{"role": ["user"], "content": "hi"}]}, "role"),
        (
            MESSAGES,
            {"model": "gpt", "max_tokens": 16, "messages": [{"role": "user", "content": [{"type": {"t": 1}}]}]},
            "messages[0].content[0].type",
        ),
        (RESPONSES, {"model": "gpt", "input": [{"type": ["message"], "role": "user", "content": "hi"}]}, "type"),
        (
            RESPONSES,
            {"model": "gpt", "input": [{"type": "reasoning", "summary": [], "content": 7}]},
            "input[0].content: expected an array",
        ),
        (CHAT, {"model": "claude", "messages": HI, "stream": "yes"}, "stream: expected a boolean"),
        (MESSAGES, {"model": "gpt", "max_tokens": 16, "messages": HI, "stream": 1}, "stream: expected a boolean"),
    ],
)
async def test_wrong_types_in_fields_a_parser_branches_on_are_a_400(served: Wired, path: str, body, field: str):
    await _refused(served, path, body, field)
