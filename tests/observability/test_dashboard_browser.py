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
from pathlib import Path
from typing import Any

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
        {"scope": "customer:acme", "kind": "customer", "name": "acme", "limit_usd": 0.05, "spent_usd": 0.0042},
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


async def sign_in(page: Any, url: str) -> None:
    """The login form: the key is POSTed once, never put in a URL."""
    from playwright.async_api import expect

    denied = await page.goto(url)
    assert denied is not None and denied.status == 401
    await page.get_by_label("Admin key").fill("wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("login-error")).to_contain_text("not the admin key")
    await page.get_by_label("Admin key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(url)
    assert ADMIN_KEY not in page.url


async def test_dashboard_filters_updates_live_and_shows_spend(dashboard: LiveDashboard):
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            expect.set_options(timeout=10_000)
            denied = await page.goto(dashboard.base_url + "/logs")
            assert denied is not None and denied.status == 401

            await sign_in(page, dashboard.base_url + "/logs")
            rows = page.locator("#rows tr")
            await expect(rows).to_have_count(3)

            await page.get_by_test_id("filter-model").fill("sonnet")
            await expect(rows).to_have_count(2)
            await expect(page.locator("#rows tr[data-id='seed-2']")).to_have_count(0)

            dashboard.submit(
                RequestRecord(id="live-1", requested_model="sonnet", virtual_key="carol", cost_usd=2.0, rule="thrifty")
            )
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
            await expect(page.get_by_test_id("detail")).to_contain_text('"rule": "thrifty"')
            await expect(page.locator("#rows tr[data-id='live-1'] td.rule")).to_have_text("thrifty")
        finally:
            await browser.close()


async def test_the_overview_charts_a_time_range_and_spend_against_every_budget_at_1024_and_1440_px(
    dashboard: LiveDashboard, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    for i in range(12):
        status = 502 if i % 4 == 0 else 200
        dashboard.submit(
            RequestRecord(
                id=f"ov-{i}",
                requested_model="sonnet",
                provider="anthropic" if i % 2 else "openai",
                virtual_key="alice",
                status=status,
                input_tokens=100 + i,
                output_tokens=20,
                cost_usd=0.00042,
                latency_ms=200.0 + 40 * i,
                time_to_first_token_ms=90.0 + i,
                cache_hit=i == 5,
            )
        )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            expect.set_options(timeout=10_000)
            await sign_in(page, dashboard.base_url + "/")
            await expect(page.get_by_test_id("card-requests")).to_contain_text("12")
            await expect(page.get_by_test_id("card-errors")).to_contain_text("3")
            await expect(page.get_by_test_id("card-cost")).to_contain_text("$0.00504")
            await expect(page.get_by_test_id("card-cache")).to_contain_text("8.3%")
            for chart in ("requests", "errors", "tokens", "cost", "latency", "ttft", "cache"):
                await expect(page.get_by_test_id(f"chart-{chart}").locator("path").first).to_be_attached()
            await expect(page.get_by_test_id("chart-errors")).to_contain_text("openai")
            budgets = page.get_by_test_id("budgets")
            await expect(budgets.locator("tr[data-scope='customer:acme']")).to_contain_text("$0.0042")
            await expect(budgets.locator("tr[data-scope='customer:acme']")).to_contain_text("8.4%")
            await expect(budgets.locator("tr[data-scope='team:bob']")).to_contain_text("90.0%")
            await page.get_by_test_id("range").select_option("3600")
            await expect(page.get_by_test_id("card-requests")).to_contain_text("12")

            for width in (1024, 1440):
                await page.set_viewport_size({"width": width, "height": 900})
                shot = tmp_path / f"overview-{width}.png"
                await page.screenshot(path=str(shot), full_page=True)
                assert int.from_bytes(shot.read_bytes()[16:20], "big") == width  # PNG IHDR width
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"horizontal scroll at {width} px"
                boxes = [await page.get_by_test_id(f"chart-{c}").bounding_box() for c in ("requests", "cache")]
                assert all(box is not None and 280 <= box["width"] <= width for box in boxes)
        finally:
            await browser.close()
