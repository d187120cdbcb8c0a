"""Budgets in Claude Code's terms, at the HTTP surface with the official SDKs (issue 22 items 2 and 3).

A spent budget is a 429 `billing_error` with one sentence and `x-should-retry: false` (neither SDK retries it);
a budgeted key's answers carry the `anthropic-ratelimit-unified-*` headers; `/api/oauth/usage` shows the same
budget in cents; an endpoint the target cannot serve is a 501 `not_supported`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from bifrostc.runtime.governance.periods import budget_window
from tests.claude_gateway.signin import bearer, sign_in
from tests.integration.wired import WAIT_S, Wired, base_spec, compile_gateway, sha256, user, wired_server

KEYS = {name: f"sk-bfc-{name}-0123456789" for name in ("capped", "team_a", "team_b", "free", "codex")}
U = "anthropic-ratelimit-unified-"


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")  # $1 per output token; max_tokens=1 answers cost $1 each
    spec["teams"] = {"platform": {"budget": {"max_usd": 2, "period": "1d"}}}
    spec["virtual_keys"] = [
        {"name": "capped", "key_sha256": sha256(KEYS["capped"]), "budget": {"max_usd": 5, "period": "1M"}},
        {"name": "team_a", "key_sha256": sha256(KEYS["team_a"]), "team": "platform"},
        {"name": "team_b", "key_sha256": sha256(KEYS["team_b"]), "team": "platform"},
        {"name": "free", "key_sha256": sha256(KEYS["free"])},
        {"name": "codex", "key_sha256": sha256(KEYS["codex"]), "budget": {"max_usd": 1, "period": "1w"}},
    ]
    spec["claude_code"] = {"sign_in": {}}
    return spec


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Wired]:
    async with wired_server(compile_gateway(tmp_path, _spec(tmp_path))) as wired:
        yield wired


class Counted:
    """An HTTP client for the SDKs (they build on httpx2) that counts the requests they send, retries included."""

    def __init__(self) -> None:
        self.sent = 0
        self.client = httpx2.AsyncClient(timeout=WAIT_S, event_hooks={"request": [self._count]})

    async def _count(self, _request: httpx2.Request) -> None:
        self.sent += 1


async def _ask(wired: Wired, key: str) -> httpx.Headers:
    raw = await wired.anthropic(KEYS[key]).messages.with_raw_response.create(
        model="echo", max_tokens=1, messages=user("hi")
    )
    return raw.headers


def _reset(period: str) -> int:
    end = budget_window(period, datetime.now(UTC).timestamp()).end
    assert end is not None
    return int(end)


async def test_a_budgeted_keys_answers_report_its_standing_and_warn_past_75_percent(served: Wired) -> None:
    shown = []
    for _ in range(5):  # each answer reports what was spent before it: $0..$4 of $5
        headers = await _ask(served, "capped")
        shown.append((headers[f"{U}status"], headers[f"{U}overage-utilization"]))
        assert headers[f"{U}representative-claim"] == "overage"
        assert headers[f"{U}overage-status"] == headers[f"{U}status"]
        assert headers[f"{U}reset"] == headers[f"{U}overage-reset"] == str(_reset("1M"))
    assert shown == [
        ("allowed", "0"),
        ("allowed", "0.2"),
        ("allowed", "0.4"),
        ("allowed", "0.6"),
        ("allowed_warning", "0.8"),
    ]
    assert headers[f"{U}overage-surpassed-threshold"] == "0.75"
    free = await _ask(served, "free")  # no budget: none of these headers
    assert not [name for name in free if name.startswith("anthropic-ratelimit")]


async def test_a_spent_budget_is_a_billing_error_neither_sdk_retries(served: Wired) -> None:
    for _ in range(5):
        await _ask(served, "capped")
    counted = Counted()
    client = anthropic.AsyncAnthropic(
        base_url=f"{served.url}/anthropic", api_key=KEYS["capped"], max_retries=3, http_client=counted.client
    )
    with pytest.raises(anthropic.RateLimitError) as refused:
        await client.messages.create(model="echo", max_tokens=1, messages=user("hi"))
    assert counted.sent == 1  # x-should-retry: false
    month = datetime.fromtimestamp(_reset("1M"), UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert refused.value.body == {
        "type": "error",
        "error": {
            "type": "billing_error",
            "message": f"The monthly budget of key 'capped' is used up: $5.00 of $5.00 spent; it resets at {month}.",
        },
    }
    headers = refused.value.response.headers
    assert headers["x-should-retry"] == "false" and int(headers["retry-after"]) > 0
    assert {k: v for k, v in headers.items() if k.startswith(U)} == {
        f"{U}status": "rejected",
        f"{U}reset": str(_reset("1M")),
        f"{U}overage-reset": str(_reset("1M")),
        f"{U}overage-utilization": "1",
        f"{U}overage-surpassed-threshold": "1",
        f"{U}overage-period": "monthly",
        f"{U}overage-disabled-reason": "org_spend_cap_reached",
    }


async def test_an_openai_client_gets_openais_shape_with_the_same_status_and_headers(served: Wired) -> None:
    await served.openai(KEYS["codex"]).chat.completions.create(model="echo", max_tokens=1, messages=user("hi"))
    counted = Counted()
    client = openai.AsyncOpenAI(
        base_url=f"{served.url}/v1", api_key=KEYS["codex"], max_retries=3, http_client=counted.client
    )
    with pytest.raises(openai.RateLimitError) as refused:
        await client.chat.completions.create(model="echo", max_tokens=1, messages=user("hi"))
    assert counted.sent == 1
    assert refused.value.code == "insufficient_quota" and refused.value.type == "insufficient_quota"
    assert refused.value.message.startswith("Error code: 429")
    assert "The weekly budget of key 'codex' is used up: $1.00 of $1.00 spent" in refused.value.message
    headers = refused.value.response.headers
    assert headers["x-should-retry"] == "false" and headers[f"{U}overage-period"] == "weekly"


async def test_a_shared_team_budget_says_it_is_the_groups(served: Wired) -> None:
    await _ask(served, "team_a")
    await _ask(served, "team_b")
    with pytest.raises(anthropic.RateLimitError) as refused:
        await _ask(served, "team_a")
    assert refused.value.body["error"]["message"].startswith(  # type: ignore[index]
        "The daily budget of team 'platform' is used up: $2.00 of $2.00 spent; it resets at "
    )
    headers = refused.value.response.headers
    assert headers[f"{U}overage-scope"] == "group_pool" and headers[f"{U}overage-period"] == "daily"


async def test_oauth_usage_shows_the_signed_in_keys_budget_in_cents(served: Wired) -> None:
    for _ in range(2):
        answer = await _ask(served, "capped")
    tokens = await sign_in(served.http, served.url, KEYS["capped"])
    response = await served.http.get(
        f"{served.url}/claude-code/api/oauth/usage?skip_spend=1", headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    resets_at = datetime.fromtimestamp(int(answer[f"{U}overage-reset"]), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert response.json() == {
        "extra_usage": {
            "is_enabled": True,
            "monthly_limit": 500,
            "used_credits": 200,
            "utilization": 40,
            "currency": "USD",
        },
        "limits": [
            {
                "kind": "spend",
                "group": "monthly",
                "percent": 40,
                "resets_at": resets_at,  # the same instant as the headers' reset
                "severity": "normal",
                "is_active": True,
            }
        ],
    }


async def test_oauth_usage_of_a_key_without_a_budget_is_its_calendar_spend(served: Wired) -> None:
    await _ask(served, "free")
    await served.settled(1)
    tokens = await sign_in(served.http, served.url, KEYS["free"])
    usage_url = f"{served.url}/claude-code/api/oauth/usage"
    response = await served.http.get(usage_url, headers=bearer(tokens["access_token"]))
    spent = {"limit": None, "used_credits": 100, "utilization": None}
    assert response.json() == {
        "extra_usage": {
            "is_enabled": True,
            "monthly_limit": None,
            "used_credits": 100,
            "utilization": None,
            "currency": "USD",
            "daily": spent,
            "weekly": spent,
        },
        "limits": [],
    }
    anonymous = await served.http.get(usage_url)
    assert (anonymous.status_code, anonymous.headers["x-should-retry"]) == (401, "false")


async def test_an_endpoint_the_target_cannot_serve_is_501_not_supported(served: Wired) -> None:
    counted = Counted()
    client = openai.AsyncOpenAI(
        base_url=f"{served.url}/v1", api_key=KEYS["free"], max_retries=3, http_client=counted.client
    )
    with pytest.raises(openai.APIStatusError) as refused:
        await client.embeddings.create(model="echo", input="hello")
    assert refused.value.status_code == 501 and counted.sent == 1
    assert refused.value.code == "not_supported"
    assert refused.value.response.headers["x-should-retry"] == "false"


async def test_a_streamed_answer_carries_the_usage_headers_too(served: Wired) -> None:
    await _ask(served, "capped")
    async with served.anthropic(KEYS["capped"]).messages.with_streaming_response.create(
        model="echo", max_tokens=1, messages=user("hi"), stream=True
    ) as response:
        headers = response.headers
        await response.read()
    assert headers["content-type"].startswith("text/event-stream")
    assert (headers[f"{U}status"], headers[f"{U}overage-utilization"]) == ("allowed", "0.2")


async def test_an_unknown_gateway_key_is_a_401_neither_sdk_retries(served: Wired) -> None:
    anthropic_count, openai_count = Counted(), Counted()
    claude = anthropic.AsyncAnthropic(
        base_url=f"{served.url}/anthropic", api_key="sk-bfc-nobody", max_retries=3, http_client=anthropic_count.client
    )
    codex = openai.AsyncOpenAI(
        base_url=f"{served.url}/v1", api_key="sk-bfc-nobody", max_retries=3, http_client=openai_count.client
    )
    with pytest.raises(anthropic.AuthenticationError) as claude_refused:
        await claude.messages.create(model="echo", max_tokens=1, messages=user("hi"))
    with pytest.raises(openai.AuthenticationError) as codex_refused:
        await codex.chat.completions.create(model="echo", max_tokens=1, messages=user("hi"))
    assert (anthropic_count.sent, openai_count.sent) == (1, 1)
    for refused in (claude_refused.value, codex_refused.value):
        assert refused.response.headers["x-should-retry"] == "false"
