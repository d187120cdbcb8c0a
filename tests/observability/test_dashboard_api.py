from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from bifrostc.runtime.observability.dashboard import COOKIE_NAME, dashboard_routes
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore


@pytest.fixture
async def store(tmp_path):
    store = SqliteLogStore(tmp_path / "logs.db")
    await store.open()
    await store.write_batch(
        [
            RequestRecord(id="a", requested_model="sonnet", virtual_key="alice", provider="anthropic", cost_usd=0.5),
            RequestRecord(id="b", requested_model="gpt-4o", virtual_key="bob", provider="openai", status=500),
            RequestRecord(id="c", requested_model="sonnet", virtual_key="bob", provider="anthropic", cost_usd=0.25),
        ]
    )
    yield store
    await store.close()


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dash")


async def _budgets() -> list[dict]:
    return [{"key": "alice", "max_usd": 10.0, "spent_usd": 0.5, "period": "1M"}]


async def test_api_lists_filters_details_and_reports_spend_without_an_admin_key(store):
    app = Starlette(routes=dashboard_routes(store, spend_report=_budgets, admin_key=None))
    async with _client(app) as client:
        listed = (await client.get("/api/logs")).json()
        assert [r["id"] for r in listed["data"]] == ["c", "b", "a"]
        by_model = (await client.get("/api/logs", params={"model": "sonnet", "key": "bob"})).json()
        assert [r["id"] for r in by_model["data"]] == ["c"]
        errors = (await client.get("/api/logs", params={"status": "error"})).json()
        assert [r["id"] for r in errors["data"]] == ["b"]
        page = (await client.get("/api/logs", params={"limit": 2})).json()
        assert page["next_before"] is not None
        older = (await client.get("/api/logs", params={"limit": 2, "before": page["next_before"]})).json()
        assert [r["id"] for r in older["data"]] == ["a"]
        assert (await client.get("/api/logs/b")).json()["provider"] == "openai"
        assert (await client.get("/api/logs/zzz")).status_code == 404
        assert (await client.get("/api/logs", params={"status": "teapot"})).status_code == 400
        spend = (await client.get("/api/spend")).json()
        assert {k["key"]: k["cost_usd"] for k in spend["keys"]} == {"alice": 0.5, "bob": 0.25}
        assert spend["budgets"][0]["max_usd"] == 10.0
        page_html = await client.get("/logs")
        assert page_html.status_code == 200 and "<table" in page_html.text


async def test_with_an_admin_key_everything_needs_it_and_the_login_form_posts_it_once(store):
    app = Starlette(routes=dashboard_routes(store, admin_key="s3cret"))
    async with _client(app) as client:
        for path in ("/api/logs", "/api/spend", "/api/overview", "/api/probe", "/logs", "/"):
            assert (await client.get(path)).status_code == 401, path
        form = await client.get("/logs")
        assert '<form method="post" action="/login"' in form.text and 'name="next" value="/logs"' in form.text
        assert (await client.get("/logs", params={"key": "s3cret"})).status_code == 401  # never a URL key
        assert (await client.get("/api/logs", headers={"x-admin-key": "s3cret"})).status_code == 200
        assert (await client.get("/api/logs", headers={"authorization": "Bearer s3cret"})).status_code == 200

        wrong = await client.post("/login", data={"key": "wrong", "next": "/logs"})
        assert wrong.status_code == 401 and "not the admin key" in wrong.text and not client.cookies
        evil = await client.post("/login", data={"key": "s3cret", "next": "//evil.example/x"})
        assert evil.status_code == 303 and evil.headers["location"] == "/"
        login = await client.post("/login", data={"key": "s3cret", "next": "/logs"})
        assert login.status_code == 303 and login.headers["location"] == "/logs"
        assert "s3cret" not in login.headers["set-cookie"] and "HttpOnly" in login.headers["set-cookie"]
        assert client.cookies.get(COOKIE_NAME)
        assert (await client.get("/logs")).status_code == 200
        assert (await client.get("/api/logs")).status_code == 200


async def test_the_overview_folds_a_time_range_into_totals_and_buckets(tmp_path):
    store = SqliteLogStore(tmp_path / "overview.db")
    await store.open()
    rows = [
        RequestRecord(
            id=f"r{i}",
            ts=1000.0 + 60 * i,
            provider="anthropic" if i % 2 else "openai",
            status=500 if i == 3 else 200,
            input_tokens=10,
            output_tokens=5,
            cost_usd=0.00125,
            latency_ms=100.0 * (i + 1),
            time_to_first_token_ms=50.0 if i % 2 else None,
            cache_hit=i == 0,
        )
        for i in range(6)
    ] + [RequestRecord(id="outside", ts=5000.0, cost_usd=9.0)]
    await store.write_batch(rows)
    try:
        app = Starlette(routes=dashboard_routes(store, admin_key=None))
        async with _client(app) as client:
            doc = (await client.get("/api/overview", params={"since": 1000, "until": 1360, "buckets": 3})).json()
            bad = await client.get("/api/overview", params={"since": 10, "until": 5})
    finally:
        await store.close()
    totals = doc["totals"]
    assert doc["rows"] == 6 and doc["truncated"] is False
    assert (totals["requests"], totals["errors"], totals["errors_by_provider"]) == (6, 1, {"anthropic": 1})
    assert (totals["input_tokens"], totals["output_tokens"]) == (60, 30)
    assert totals["cost_usd"] == pytest.approx(0.0075)  # a fraction of a cent per request, kept exact
    assert (totals["latency_p50_ms"], totals["latency_p95_ms"]) == (300.0, 600.0)
    assert totals["ttft_p50_ms"] == 50.0 and totals["cache_hit_rate"] == pytest.approx(1 / 6)
    assert [b["requests"] for b in doc["series"]] == [2, 2, 2]
    assert bad.status_code == 400
