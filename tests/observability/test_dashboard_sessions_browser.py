"""The dashboard's sessions page in headless Chromium: the list of coding-agent sessions, one session's turns,
models and providers, tool calls, tokens, cache-read share, cost, errors and its subagents as a tree; Claude
Code's telemetry when the session JSON carries it; the layout at 1024 and 1440 px, screenshots checked."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bifrostc.runtime.observability.dashboard import dashboard_routes
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.sessions import session_tree
from bifrostc.runtime.observability.store import MAX_LIMIT, LogFilter
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from tests.conftest import server_thread
from tests.observability.test_dashboard_browser import ADMIN_KEY, CHROMIUM, CHROMIUM_ARGS, sign_in

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")

# The shape the sign-in side adds to /api/sessions/{id} from Claude Code's OTLP telemetry.
TELEMETRY = {
    "tool_decisions": {"accept": 7, "reject": 2},
    "lines_of_code": {"added": 120, "removed": 30},
    "commits": 3,
    "pull_requests": 1,
    "active_time_seconds": 754.0,
    "cost_usd": 0.0123,
}


def _records(now: float) -> list[RequestRecord]:
    def row(i: int, session: str | None, **fields: Any) -> RequestRecord:
        base: dict[str, Any] = {"provider": "anthropic", "requested_model": "sonnet", "input_tokens": 100}
        return RequestRecord(id=f"s-{i}", ts=now - 600 + i, session_id=session, **{**base, **fields})

    return [
        row(0, "sess-alpha", request_class="main", finish_reason="tool_use", cache_read_tokens=300, cost_usd=0.002),
        row(1, "sess-alpha", request_class="main", cache_read_tokens=300, output_tokens=50, cost_usd=0.003),
        row(2, "sess-alpha", request_class="subagent", agent_id="agent-1", finish_reason="tool_use", cost_usd=0.001),
        row(
            3,
            "sess-alpha",
            request_class="subagent",
            agent_id="agent-2",
            parent_agent_id="agent-1",
            provider="openai",
            requested_model="haiku",
            status=529,
            error_type="overloaded_error",
        ),
        row(4, "sess-alpha", request_class="compaction", requested_model="haiku", cost_usd=0.0005),
        row(5, "sess-alpha", request_class="main", finish_reason="end_turn", cost_usd=0.001),
        row(6, "sess-telemetry", request_class="main", cost_usd=0.01),
        row(7, None, requested_model="gpt-5", provider="openai"),  # not a coding-agent session: not listed
    ]


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    store = SqliteLogStore(tmp_path / "sessions.db")
    await store.open()
    await store.write_batch(_records(time.time()))

    async def with_telemetry(request: Request) -> Response:
        """Until the log carries it: this session's JSON with the `telemetry` field the sign-in side adds."""
        rows = await store.query(LogFilter(session="sess-telemetry", limit=MAX_LIMIT))
        return JSONResponse({**session_tree("sess-telemetry", rows), "telemetry": TELEMETRY})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await store.close()

    routes = dashboard_routes(store, admin_key=ADMIN_KEY)
    app = Starlette(
        routes=[Route("/dashboard/api/sessions/sess-telemetry", with_telemetry), Mount("/dashboard", routes=routes)],
        lifespan=lifespan,
    )
    with server_thread(app) as url:
        yield url + "/dashboard"


async def test_the_sessions_page_shows_a_session_and_its_subagent_tree_at_1024_and_1440_px(
    base_url: str, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            expect.set_options(timeout=10_000)
            await sign_in(page, base_url + "/sessions")
            listed = page.get_by_test_id("sessions").locator("tr")
            await expect(listed).to_have_count(2)
            await expect(listed.first).to_have_attribute("data-session", "sess-telemetry")  # the latest active
            alpha = page.locator("#list tr[data-session='sess-alpha']")
            await expect(alpha).to_contain_text("haiku, sonnet")

            await alpha.click()
            await expect(page.get_by_test_id("session-id")).to_have_text("sess-alpha")
            assert page.url.endswith("#sess-alpha")
            cards = page.get_by_test_id("session-cards")
            await expect(cards.get_by_test_id("s-turns")).to_contain_text("3")
            await expect(cards.get_by_test_id("s-requests")).to_contain_text("6")
            await expect(cards.get_by_test_id("s-tools")).to_contain_text("2")
            await expect(cards.get_by_test_id("s-tokens")).to_contain_text("1,200 / 50")
            await expect(cards.get_by_test_id("s-cache")).to_contain_text("50.0%")  # 600 of 1,200 prompt tokens
            await expect(cards.get_by_test_id("s-cost")).to_contain_text("$0.0075")
            await expect(cards.get_by_test_id("s-errors")).to_contain_text("1")
            models = page.get_by_test_id("session-models")
            await expect(models.locator("[data-model='sonnet']")).to_contain_text("sonnet: 4")
            await expect(models.locator("[data-provider='openai']")).to_contain_text("openai: 1")
            await expect(page.locator("#telemetry-block")).to_be_hidden()

            main = page.get_by_test_id("main-thread")
            await expect(main.locator(":scope > table [data-testid='session-row']")).to_have_count(4)
            agent1 = main.locator(":scope > .node[data-agent='agent-1']")
            await expect(agent1).to_contain_text("1 request · 1 tool call ·")
            agent2 = agent1.locator(":scope > .node[data-agent='agent-2']")  # a subagent's subagent, nested
            await expect(agent2).to_contain_text("529 overloaded_error")
            await expect(agent2).to_contain_text("· 1 error")

            for width in (1024, 1440):
                await page.set_viewport_size({"width": width, "height": 900})
                await _check_layout(page, tmp_path / f"sessions-{width}.png", width)

            await page.locator("#list tr[data-session='sess-telemetry']").click()
            telemetry = page.get_by_test_id("telemetry")
            await expect(page.locator("#telemetry-block")).to_be_visible()
            await expect(telemetry.get_by_test_id("tel-decisions")).to_contain_text("7 / 2")
            await expect(telemetry.get_by_test_id("tel-lines")).to_contain_text("+120 / -30")
            await expect(telemetry.get_by_test_id("tel-commits")).to_contain_text("3")
            await expect(telemetry.get_by_test_id("tel-prs")).to_contain_text("1")
            await expect(telemetry.get_by_test_id("tel-active")).to_contain_text("12.6 min")
            await expect(telemetry.get_by_test_id("tel-cost")).to_contain_text("$0.0123")
            await _check_layout(page, tmp_path / "sessions-telemetry-1024.png", 1024)
        finally:
            await browser.close()


async def _check_layout(page: Any, shot: Path, width: int) -> None:
    await page.set_viewport_size({"width": width, "height": 900})
    await page.screenshot(path=str(shot), full_page=True)
    assert int.from_bytes(shot.read_bytes()[16:20], "big") == width  # PNG IHDR width
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"horizontal scroll at {width} px"
    clipped = await page.evaluate("[...document.querySelectorAll('section')].map(s => s.scrollWidth - s.clientWidth)")
    assert max(clipped) <= 0, f"a panel scrolls sideways at {width} px"
    boxes = [await page.get_by_test_id(name).bounding_box() for name in ("sessions", "session")]
    assert all(box is not None and box["width"] >= 250 for box in boxes), boxes
    assert boxes[0] is not None and boxes[1] is not None and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]


async def test_the_sessions_api_lists_sessions_and_needs_the_admin_key(base_url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        denied = await client.get(base_url + "/api/sessions")
        listed = (await client.get(base_url + "/api/sessions", headers={"x-admin-key": ADMIN_KEY})).json()
        tree = (await client.get(base_url + "/api/sessions/sess-alpha", headers={"x-admin-key": ADMIN_KEY})).json()
    assert denied.status_code == 401
    assert [s["session_id"] for s in listed["data"]] == ["sess-telemetry", "sess-alpha"]
    alpha = listed["data"][1]
    assert (alpha["requests"], alpha["agents"], alpha["errors"], alpha["tool_calls"]) == (6, 2, 1, 2)
    assert tree["cache_read_share"] == pytest.approx(0.5) and tree["turns"] == 3
    assert tree["models"] == {"haiku": 2, "sonnet": 4} and tree["providers"] == {"anthropic": 5, "openai": 1}
    assert tree["telemetry"] is None  # no OTLP export from Claude Code for this session (the sign-in side)
