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


async def test_with_an_admin_key_everything_needs_it_and_the_page_key_becomes_a_cookie(store):
    app = Starlette(routes=dashboard_routes(store, admin_key="s3cret"))
    async with _client(app) as client:
        assert (await client.get("/api/logs")).status_code == 401
        assert (await client.get("/api/spend")).status_code == 401
        assert (await client.get("/logs")).status_code == 401
        assert (await client.get("/logs", params={"key": "wrong"})).status_code == 401
        assert (await client.get("/api/logs", headers={"x-admin-key": "s3cret"})).status_code == 200
        assert (await client.get("/api/logs", headers={"authorization": "Bearer s3cret"})).status_code == 200

        login = await client.get("/logs", params={"key": "s3cret"})
        assert login.status_code == 303
        assert "key=" not in login.headers["location"]
        assert "s3cret" not in login.headers["set-cookie"]
        assert client.cookies.get(COOKIE_NAME)
        assert (await client.get("/logs")).status_code == 200
        assert (await client.get("/api/logs")).status_code == 200
