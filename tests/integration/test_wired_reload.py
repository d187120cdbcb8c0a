"""Hot reload of the wired gateway: new keys and routes go live, spend counters survive the swap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from bifrostc.compiler.api import build
from bifrostc.runtime.app import swap_gateway
from bifrostc.runtime.server import RoutingWatcher, build_server_app
from tests.conftest import running_server
from tests.integration.wired import (
    DOLLAR_PER_TOKEN,
    LogWaiter,
    Wired,
    base_spec,
    budget_row,
    compile_gateway,
    sha256,
    user,
    wired_server,
)

ALICE = "sk-bfc-alice-reload-0123456789"
BOB = "sk-bfc-bob-reload-0123456789"
BUDGET = {"max_usd": 10, "period": "never"}


def _spec(tmp_path: Path, *, with_bob: bool) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["teams"] = {"platform": {"budget": dict(BUDGET)}}
    spec["virtual_keys"] = [{"name": "alice", "key_sha256": sha256(ALICE), "team": "platform", "budget": BUDGET}]
    if with_bob:
        spec["models"]["echo2"] = {"target": "mock/echo2", "pricing": dict(DOLLAR_PER_TOKEN)}
        spec["virtual_keys"].append({"name": "bob", "key_env": "BOB_KEY", "team": "platform"})
    return spec


async def _ask(wired: Wired, key: str, model: str = "echo") -> None:
    await wired.anthropic(key).messages.create(model=model, max_tokens=8, messages=user("hi"))


async def test_rebuilt_routing_with_a_new_key_and_route_is_picked_up_by_the_watcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOB_KEY", BOB)  # `bifrostc serve` reads key env vars from its own environment
    spec_path, out = tmp_path / "gateway.yaml", tmp_path / "out"
    compile_gateway(tmp_path, _spec(tmp_path, with_bob=False))  # writes gateway.yaml
    assert build(spec_path, out).ok
    app = build_server_app(out, reload=False)  # the watcher is driven by hand below, not by its poll loop
    waiter = LogWaiter(app.state.parts.telemetry)
    watcher = RoutingWatcher(app, out / "routing.py")
    watcher.prime()
    async with running_server(app) as url:
        wired = Wired(app, url, waiter)
        await _ask(wired, ALICE)
        with pytest.raises(anthropic.AuthenticationError):
            await _ask(wired, BOB)

        compile_gateway(tmp_path, _spec(tmp_path, with_bob=True))
        assert build(spec_path, out).ok
        assert watcher.check()

        await _ask(wired, BOB)
        await _ask(wired, ALICE, model="echo2")
        spend = await wired.spend()
        await wired.http.aclose()
    assert budget_row(spend, "key", "alice")["spent_usd"] == pytest.approx(2.0)  # $1 before, $1 after the swap
    assert budget_row(spend, "key", "bob")["spent_usd"] == pytest.approx(1.0)
    assert budget_row(spend, "team", "platform")["spent_usd"] == pytest.approx(3.0)


async def test_swap_gateway_keeps_spend_and_revokes_a_removed_key(tmp_path: Path) -> None:
    environ = {"BOB_KEY": BOB}
    with_bob = compile_gateway(tmp_path, _spec(tmp_path, with_bob=True), environ)
    without_bob = compile_gateway(tmp_path, _spec(tmp_path, with_bob=False), environ)
    async with wired_server(with_bob, environ) as wired:
        await _ask(wired, BOB)
        # max_tokens: admission holds it at the output price ($1 a token), within alice's $10
        await wired.openai(ALICE).chat.completions.create(model="echo2", max_tokens=8, messages=user("hi"))
        swap_gateway(wired.app, without_bob)
        with pytest.raises(anthropic.AuthenticationError):
            await _ask(wired, BOB)
        with pytest.raises(openai.NotFoundError):
            await wired.openai(ALICE).chat.completions.create(model="echo2", messages=user("hi"))
        await _ask(wired, ALICE)
        spend = await wired.spend()
    assert budget_row(spend, "key", "alice")["spent_usd"] == pytest.approx(2.0)
    assert budget_row(spend, "team", "platform")["spent_usd"] == pytest.approx(3.0)
    assert not any(row["name"] == "bob" for row in spend["budgets"])  # the report follows the new spec
