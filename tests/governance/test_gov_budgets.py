"""Behaviour suite run against both counter stores (SQLite file and real Redis)."""

from __future__ import annotations

import pytest
from gov_helpers import FakeClock, make_gateway

from bifrostc.runtime.config import Budget, Customer, Gateway, RateLimit, Team, VirtualKey
from bifrostc.runtime.errors import BudgetExceeded, RateLimited
from bifrostc.runtime.governance.governor import Governor
from bifrostc.runtime.governance.keys import KeyContext, KeyRing, hash_key
from bifrostc.runtime.governance.store import CounterStore


def governor(store: CounterStore, clock: FakeClock, gateway: Gateway) -> Governor:
    return Governor(gateway, store, keyring=KeyRing(gateway, {}), clock=clock)


def login(gov: Governor, name: str) -> KeyContext:
    ctx = gov.authenticate({"x-api-key": f"sk-bfc-{name}"})
    assert ctx is not None
    return ctx


def key(name: str, **fields: object) -> VirtualKey:
    return VirtualKey(name, sha256=hash_key(f"sk-bfc-{name}"), **fields)  # type: ignore[arg-type]


def org(**key_fields: object) -> Gateway:
    return make_gateway(
        key("alice", team="eng", **key_fields),
        key("bob", team="eng"),
        key("carol", team="ops"),
        teams={"eng": Team("eng", customer="acme", budget=Budget(3.0)), "ops": Team("ops", customer="acme")},
        customers={"acme": Customer("acme", budget=Budget(5.0, "1M"))},
    )


async def spend(gov: Governor, ctx: KeyContext, usd: float, tokens: int = 0) -> None:
    reservation = await gov.admit(ctx)
    await gov.settle(reservation, usd, tokens)


async def test_admits_while_spent_is_below_the_limit(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, make_gateway(key("alice", budget=Budget(1.0))))
    alice = login(gov, "alice")
    await spend(gov, alice, 0.6)
    await spend(gov, alice, 0.6)  # 0.6 < 1.0 at admission: admitted, overshoot by one request
    with pytest.raises(BudgetExceeded) as refused:
        await gov.admit(alice)
    assert refused.value.retry_after is None  # a "never" budget does not reset
    assert "key 'alice'" in refused.value.message


async def test_team_budget_is_shared_by_its_keys(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, org())
    alice, bob, carol = login(gov, "alice"), login(gov, "bob"), login(gov, "carol")
    await spend(gov, alice, 3.0)
    with pytest.raises(BudgetExceeded, match="team 'eng'"):
        await gov.admit(bob)
    await spend(gov, carol, 1.0)  # another team of the same customer is unaffected


async def test_customer_budget_caps_all_its_teams(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, org())
    alice, carol = login(gov, "alice"), login(gov, "carol")
    await spend(gov, alice, 2.0)
    await spend(gov, carol, 3.0)
    with pytest.raises(BudgetExceeded, match="customer 'acme'") as refused:
        await gov.admit(carol)
    # monthly budget: retry after the 1st of next month (clock is 2026-03-11 10:30:15 UTC)
    assert refused.value.retry_after == pytest.approx(20 * 86400 + 13 * 3600 + 29 * 60 + 45)


async def test_a_refused_request_counts_nowhere(store: CounterStore, clock: FakeClock) -> None:
    gateway = make_gateway(
        key("alice", team="eng", rate_limit=RateLimit(requests_per_minute=5)),
        teams={"eng": Team("eng", rate_limit=RateLimit(requests_per_minute=1))},
    )
    gov = governor(store, clock, gateway)
    alice = login(gov, "alice")
    await gov.admit(alice)
    with pytest.raises(RateLimited, match="team 'eng'"):
        await gov.admit(alice)
    rows = {row["scope"]: row for row in await gov.spend_report()}
    assert rows["key:alice"]["requests_this_minute"] == 1
    assert rows["team:eng"]["requests_this_minute"] == 1


async def test_daily_budget_resets_at_utc_midnight(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, make_gateway(key("alice", budget=Budget(1.0, "1d"))))
    alice = login(gov, "alice")
    await spend(gov, alice, 1.5)
    with pytest.raises(BudgetExceeded) as refused:
        await gov.admit(alice)
    assert refused.value.retry_after == 13 * 3600 + 29 * 60 + 45
    clock.advance(refused.value.retry_after)
    await spend(gov, alice, 0.5)
    [row] = await gov.spend_report()
    assert row["spent_usd"] == pytest.approx(0.5)


async def test_hourly_and_weekly_budgets_reset_with_their_window(store: CounterStore, clock: FakeClock) -> None:
    gateway = make_gateway(key("alice", budget=Budget(1.0, "1h")), key("bob", budget=Budget(1.0, "1w")))
    gov = governor(store, clock, gateway)
    alice, bob = login(gov, "alice"), login(gov, "bob")
    await spend(gov, alice, 1.0)
    await spend(gov, bob, 1.0)
    clock.advance(30 * 60)  # 11:00:15: new hour, same week
    await gov.admit(alice)
    with pytest.raises(BudgetExceeded):
        await gov.admit(bob)
    clock.advance(5 * 86400)  # Monday
    await gov.admit(bob)


async def test_requests_per_minute_window(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, make_gateway(key("alice", rate_limit=RateLimit(requests_per_minute=3))))
    alice = login(gov, "alice")
    for _ in range(3):
        await gov.admit(alice)
    with pytest.raises(RateLimited) as refused:
        await gov.admit(alice)
    # The clock is at hh:30:15. The minute is full; from hh:31:00 its 3 requests slide out at 3 per 60 s,
    # so the first one fits once a third of them are gone: hh:31:20, 65 s from now.
    assert refused.value.retry_after == 65
    clock.advance(45)
    with pytest.raises(RateLimited) as at_the_edge:  # a fixed window would admit 3 more here
        await gov.admit(alice)
    assert at_the_edge.value.retry_after == 20
    clock.advance(20)
    await gov.admit(alice)
    with pytest.raises(RateLimited):
        await gov.admit(alice)


async def test_a_sliding_minute_never_admits_a_double_burst_at_a_window_edge(
    store: CounterStore, clock: FakeClock
) -> None:
    gov = governor(store, clock, make_gateway(key("alice", rate_limit=RateLimit(requests_per_minute=10))))
    alice = login(gov, "alice")
    clock.advance(44)  # hh:30:59
    admitted = 0
    for _ in range(10):
        await gov.admit(alice)
        admitted += 1
    clock.advance(2)  # hh:31:01: a fixed window would reset here
    for _ in range(10):
        try:
            await gov.admit(alice)
            admitted += 1
        except RateLimited:
            pass
    assert admitted == 10  # 10 * (59/60) of the previous minute still counts: no room yet


async def test_tokens_per_minute_counts_settled_tokens(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, make_gateway(key("alice", rate_limit=RateLimit(tokens_per_minute=1000))))
    alice = login(gov, "alice")
    await spend(gov, alice, 0.0, tokens=600)
    await spend(gov, alice, 0.0, tokens=600)
    with pytest.raises(RateLimited, match="tokens per minute"):
        await gov.admit(alice)
    clock.advance(60)
    await gov.admit(alice)


async def test_anonymous_traffic_is_not_metered(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, make_gateway(key("alice", budget=Budget(0.0))))
    reservation = await gov.admit(None)
    await gov.settle(reservation, 10.0, 10)
    with pytest.raises(BudgetExceeded):  # a zero budget refuses everything
        await gov.admit(login(gov, "alice"))


async def test_settling_twice_counts_once(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, make_gateway(key("alice")))
    reservation = await gov.admit(login(gov, "alice"))
    await gov.settle(reservation, 0.25, 10)
    await gov.settle(reservation, 0.25, 10)
    [row] = await gov.spend_report()
    assert row["spent_usd"] == pytest.approx(0.25)


async def test_spend_report_lists_every_scope(store: CounterStore, clock: FakeClock) -> None:
    gov = governor(store, clock, org(rate_limit=RateLimit(requests_per_minute=10, tokens_per_minute=500)))
    await spend(gov, login(gov, "alice"), 1.25, tokens=100)
    rows = {row["scope"]: row for row in await gov.spend_report()}
    assert set(rows) == {"key:alice", "key:bob", "key:carol", "team:eng", "team:ops", "customer:acme"}
    alice, eng, acme = rows["key:alice"], rows["team:eng"], rows["customer:acme"]
    assert (alice["spent_usd"], alice["limit_usd"], alice["period"], alice["resets_at"]) == (1.25, None, "never", None)
    assert (alice["requests_this_minute"], alice["tokens_this_minute"]) == (1, 100)
    assert (alice["requests_per_minute"], alice["tokens_per_minute"]) == (10, 500)
    assert (eng["spent_usd"], eng["limit_usd"]) == (1.25, 3.0)
    assert (acme["spent_usd"], acme["period"], acme["resets_at"]) == (1.25, "1M", "2026-04-01T00:00:00+00:00")
    assert rows["key:bob"]["spent_usd"] == 0.0
