"""The dashboard page in headless Chromium: filter, live updates, per-key spend, admin-key login.

The gateway side runs for real: uvicorn in a thread serving the dashboard over a SQLite store fed by a LogSink.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from bifrostc.runtime.observability.dashboard import dashboard_routes
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.sink import LogSink
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from tests.conftest import server_thread

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ADMIN_KEY = "dash-admin-key"

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")


@dataclass
class LiveDashboard:
    base_url: str
    sink: LogSink
    loop: asyncio.AbstractEventLoop

    def submit(self, record: RequestRecord) -> None:
        # The sink's queue belongs to the server's event loop.
        self.loop.call_soon_threadsafe(self.sink.submit, record)


async def _budgets() -> list[dict]:
    # The shape of Governor.spend_report(): one row per scope.
    return [
        {"scope": "key:alice", "kind": "key", "name": "alice", "limit_usd": 10.0, "spent_usd": 0.5, "period": "1M"},
        {"scope": "team:bob", "kind": "team", "name": "bob", "limit_usd": 1.0, "spent_usd": 0.9, "period": "1d"},
    ]


def _target(provider: str, status: str, reasons: list[str], hints: list[str]) -> dict[str, object]:
    return {"provider": provider, "model": "gpt-5", "status": status, "reasons": reasons, "caveats": [], "hints": hints}


PROBE = {
    "probed_at": "2026-12-03T10:00:00Z",
    "routes": [
        {"route": "good", "tiers": ["sonnet"], "status": "ready", "targets": [_target("p-good", "ready", [], [])]},
        {
            "route": "no-tools",
            "tiers": [],
            "status": "not_ready",
            "targets": [_target("p-weak", "not_ready", ["no tool call in the streamed turn"], ["set tools: false"])],
        },
    ],
}


@pytest.fixture
async def dashboard(tmp_path) -> AsyncIterator[LiveDashboard]:
    store = SqliteLogStore(tmp_path / "dash.db")
    await store.open()
    await store.write_batch(
        [
            RequestRecord(id="seed-1", ts=100.0, requested_model="sonnet", virtual_key="alice", cost_usd=0.5),
            RequestRecord(id="seed-2", ts=101.0, requested_model="gpt-4o", provider="openai", virtual_key="bob"),
            RequestRecord(id="seed-3", ts=102.0, requested_model="sonnet", virtual_key="bob", cost_usd=0.25),
        ]
    )
    sink = LogSink(store)
    ready = threading.Event()
    holder: dict[str, asyncio.AbstractEventLoop] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sink.start()
        holder["loop"] = asyncio.get_running_loop()
        ready.set()
        yield
        await sink.aclose()

    probe_file = tmp_path / "probe.json"  # what `bifrostc probe --out` writes (report.as_json)
    probe_file.write_text(json.dumps(PROBE))
    routes = dashboard_routes(store, spend_report=_budgets, admin_key=ADMIN_KEY, probe_file=lambda: probe_file)
    app = Starlette(routes=[Mount("/dashboard", routes=routes)], lifespan=lifespan)
    with server_thread(app) as base_url:
        assert await asyncio.to_thread(ready.wait, 10)
        yield LiveDashboard(base_url + "/dashboard", sink, holder["loop"])


async def test_dashboard_filters_updates_live_and_shows_spend(dashboard: LiveDashboard):
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            expect.set_options(timeout=10_000)
            denied = await page.goto(dashboard.base_url + "/logs")
            assert denied is not None and denied.status == 401

            await page.goto(dashboard.base_url + "/logs?key=" + ADMIN_KEY)
            assert "key=" not in page.url
            rows = page.locator("#rows tr")
            await expect(rows).to_have_count(3)

            await page.get_by_test_id("filter-model").fill("sonnet")
            await expect(rows).to_have_count(2)
            await expect(page.locator("#rows tr[data-id='seed-2']")).to_have_count(0)

            dashboard.submit(RequestRecord(id="live-1", requested_model="sonnet", virtual_key="carol", cost_usd=2.0))
            dashboard.submit(RequestRecord(id="live-2", requested_model="gpt-4o", virtual_key="carol"))
            await expect(page.locator("#rows tr[data-id='live-1']")).to_have_count(1)
            await expect(rows).to_have_count(3)

            alice = page.locator("#spend tr[data-key='alice']")
            await expect(alice).to_contain_text("0.5000")
            await expect(alice).to_contain_text("$0.50 / $10.00 per 1M")
            await expect(page.locator("#spend tr[data-key='carol']")).to_contain_text("2.0000")
            await expect(page.locator("#spend tr[data-key='bob']")).not_to_contain_text("$1.00")

            probe = page.get_by_test_id("probe")
            await expect(probe.locator("tr[data-route='good']")).to_contain_text("ready")
            await expect(probe.locator("tr[data-route='good']")).to_contain_text("good (sonnet)")
            weak = probe.locator("tr[data-route='no-tools']")
            await expect(weak.first).to_contain_text("NOT READY")
            await expect(weak.last).to_contain_text("no tool call in the streamed turn; hint: set tools: false")
            await expect(page.locator("#probed-at")).to_contain_text("2026-12-03T10:00:00Z")

            await page.locator("#rows tr[data-id='live-1']").click()
            await expect(page.get_by_test_id("detail")).to_contain_text('"virtual_key": "carol"')
        finally:
            await browser.close()
