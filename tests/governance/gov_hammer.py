"""Child process for the two-replica test: hammer one Redis-backed team budget until it is exhausted.

Usage: python gov_hammer.py REDIS_URL PREFIX KEY_NAME CONCURRENCY COST_USD. Waits for a "go" token on the list
PREFIX + "go" so both replicas start together, then prints {"admitted": n, "rejected": m} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

import redis.asyncio as redis_async

from bifrostc.runtime.config import Budget, Gateway, Team, VirtualKey
from bifrostc.runtime.errors import BudgetExceeded
from bifrostc.runtime.governance.governor import Governor
from bifrostc.runtime.governance.keys import hash_key

TEAM_BUDGET_USD = 1.0


def shared_gateway() -> Gateway:
    keys = tuple(VirtualKey(name, sha256=hash_key(f"sk-bfc-{name}"), team="eng") for name in ("alice", "bob"))
    teams = {"eng": Team("eng", budget=Budget(TEAM_BUDGET_USD))}
    return Gateway(providers={}, routes={}, virtual_keys=keys, teams=teams)


async def worker(gov: Governor, key_name: str, cost: float, tally: dict[str, int]) -> None:
    ctx = gov.authenticate({"x-api-key": f"sk-bfc-{key_name}"})
    while True:
        try:
            reservation = await gov.admit(ctx)
        except BudgetExceeded:
            tally["rejected"] += 1
            return
        tally["admitted"] += 1
        await asyncio.sleep(0)  # let the other tasks admit while this request is "in flight"
        await gov.settle(reservation, cost, 10)


async def main(url: str, prefix: str, key_name: str, concurrency: int, cost: float) -> None:
    control = redis_async.Redis.from_url(url)
    await control.blpop([prefix + "go"], timeout=30)
    await control.aclose()
    gov = Governor.from_gateway(shared_gateway(), redis_url=url, key_prefix=prefix)
    tally = {"admitted": 0, "rejected": 0}
    await asyncio.gather(*(worker(gov, key_name, cost, tally) for _ in range(concurrency)))
    await gov.aclose()
    print(json.dumps(tally))


if __name__ == "__main__":
    url, prefix, key_name, concurrency, cost = sys.argv[1:6]
    asyncio.run(main(url, prefix, key_name, int(concurrency), float(cost)))
