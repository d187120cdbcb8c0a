"""Two OS processes, one Redis: a shared team budget is enforced across replicas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from gov_hammer import TEAM_BUDGET_USD, shared_gateway
from gov_helpers import REDIS_URL

from bifrostc.runtime.governance.governor import Governor

CONCURRENCY = 4  # tasks per process, each holding at most one reservation
COST = 0.01


@pytest.mark.services
async def test_two_replicas_share_one_budget(redis_prefix: str) -> None:
    script = Path(__file__).with_name("gov_hammer.py")
    children = [
        subprocess.Popen(
            [sys.executable, str(script), REDIS_URL, redis_prefix, name, str(CONCURRENCY), str(COST)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("alice", "bob")
    ]
    control = redis.Redis.from_url(REDIS_URL)
    try:
        control.rpush(redis_prefix + "go", "go", "go")
        tallies = [json.loads(child.communicate(timeout=60)[0]) for child in children]
        assert all(child.returncode == 0 for child in children)

        gov = Governor.from_gateway(shared_gateway(), redis_url=REDIS_URL, key_prefix=redis_prefix)
        rows = {row["scope"]: row for row in await gov.spend_report()}
        await gov.aclose()
    finally:
        for child in children:
            child.kill()
        keys = list(control.scan_iter(match=redis_prefix + "*"))
        if keys:
            control.delete(*keys)
        control.close()

    admitted = sum(t["admitted"] for t in tallies)
    team_spend = rows["team:eng"]["spent_usd"]
    in_flight_allowance = 2 * CONCURRENCY * COST
    assert team_spend == pytest.approx(admitted * COST)
    assert team_spend == pytest.approx(rows["key:alice"]["spent_usd"] + rows["key:bob"]["spent_usd"])
    assert TEAM_BUDGET_USD <= team_spend + 1e-9
    assert team_spend <= TEAM_BUDGET_USD + in_flight_allowance + 1e-9
    assert [t["rejected"] for t in tallies] == [CONCURRENCY, CONCURRENCY]  # every worker ended on BudgetExceeded
