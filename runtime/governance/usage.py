"""A key's standing against its budgets, in the words and headers Claude Code reads (its gateway contract,
"Usage-limit headers"): the refusal sentence, the `anthropic-ratelimit-unified-*` headers, `/api/oauth/usage`.

Pure functions of the budget chain (key -> team -> customer) and what each budget's current window has spent.
When several budgets apply the fullest one is described; once one is used up, the used-up one that resets last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bifrostc.runtime.governance.keys import Scope

WARNING_THRESHOLDS = (0.95, 0.75)  # past these Claude Code shows "You've used NN% of your usage credits"
_PERIOD_NAMES = {"1h": "hourly", "1d": "daily", "1w": "weekly", "1M": "monthly"}
_CONTRACT_PERIODS = ("daily", "weekly", "monthly")  # the `overage-period` values Claude Code knows
PREFIX = "anthropic-ratelimit-unified-"


@dataclass(frozen=True, slots=True)
class Standing:
    """One budget of the chain: what its current window spent, of what limit, and when that window ends."""

    scope: Scope
    spent: float
    limit: float
    period: str  # never | 1h | 1d | 1w | 1M
    resets_at: float | None  # unix seconds; None for "never"

    @property
    def exceeded(self) -> bool:
        return self.spent >= self.limit

    @property
    def utilization(self) -> float:
        return self.spent / self.limit if self.limit > 0 else 1.0

    @property
    def shown(self) -> float:
        """The fraction shown: two decimals, kept below 1 while requests are still admitted."""
        value = round(self.utilization, 2)
        return value if self.exceeded else min(value, 0.99)

    @property
    def period_name(self) -> str:
        return _PERIOD_NAMES.get(self.period, "lifetime")


def fullest(standings: list[Standing]) -> Standing | None:
    """The used-up budget that resets last, else the one with the highest utilization."""
    best: Standing | None = None
    for standing in standings:
        if best is None or _fuller(standing, best):
            best = standing
    return best


def _fuller(a: Standing, b: Standing) -> bool:
    if a.exceeded != b.exceeded:
        return a.exceeded
    if a.exceeded:
        return (a.resets_at or math.inf) > (b.resets_at or math.inf)
    return a.utilization > b.utilization


def _when(moment: float | None) -> str:
    if moment is None:
        return "it does not reset"
    return "it resets at " + datetime.fromtimestamp(math.floor(moment), UTC).strftime("%Y-%m-%d %H:%M UTC")


def refusal_sentence(standing: Standing, request_cost: float = 0.0) -> str:
    """One sentence naming the budget, what it spent and when it resets (Claude Code prints it as-is)."""
    who = f"{standing.scope.kind} '{standing.scope.name}'"
    money = f"${standing.spent:.2f} of ${standing.limit:.2f} spent"
    if standing.exceeded:
        state = f"is used up: {money}"
    else:
        state = f"cannot cover this request (up to ${request_cost:.2f}): {money}"
    return f"The {standing.period_name} budget of {who} {state}; {_when(standing.resets_at)}."


def _group_pool(standing: Standing) -> bool:
    return standing.scope.kind != "key"  # a budget the key's whole team or customer shares


def allowed_headers(standing: Standing) -> dict[str, str]:
    """The headers of an admitted request's answer."""
    threshold = next((t for t in WARNING_THRESHOLDS if standing.utilization > t), None)
    status = "allowed_warning" if threshold is not None else "allowed"
    headers = {
        f"{PREFIX}status": status,
        f"{PREFIX}representative-claim": "overage",
        f"{PREFIX}overage-status": status,
        f"{PREFIX}overage-utilization": f"{standing.shown:g}",
    }
    if threshold is not None:
        headers[f"{PREFIX}overage-surpassed-threshold"] = f"{threshold:g}"
    return headers | _reset_headers(standing)


def rejected_headers(standing: Standing) -> dict[str, str]:
    """The headers of a refusal: no representative-claim or overage-status, so the client prints our sentence."""
    headers = {
        f"{PREFIX}status": "rejected",
        f"{PREFIX}overage-utilization": f"{max(1.0, standing.shown):g}",
        f"{PREFIX}overage-surpassed-threshold": "1",
        f"{PREFIX}overage-disabled-reason": "org_spend_cap_reached",
    }
    period = _PERIOD_NAMES.get(standing.period)
    if period in _CONTRACT_PERIODS:
        headers[f"{PREFIX}overage-period"] = period
    if _group_pool(standing):
        headers[f"{PREFIX}overage-scope"] = "group_pool"
    return headers | _reset_headers(standing)


def _reset_headers(standing: Standing) -> dict[str, str]:
    if standing.resets_at is None:
        return {}
    reset = str(math.floor(standing.resets_at))
    return {f"{PREFIX}reset": reset, f"{PREFIX}overage-reset": reset}


def _cents(usd: float) -> int:
    return math.floor(usd * 100 + 1e-9)


def _percent(standing: Standing) -> int:
    return round(standing.shown * 100)


def _severity(standing: Standing) -> str:
    if standing.exceeded or standing.utilization > 0.95:
        return "critical"
    return "warning" if standing.utilization > 0.75 else "normal"


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None  # whole seconds, floored like the reset headers: clients pair the two only when they agree
    return datetime.fromtimestamp(math.floor(moment), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def usage_report(standings: list[Standing], uncapped: dict[str, float] | None = None) -> dict[str, Any]:
    """The `GET /api/oauth/usage` body: the budget the headers describe in `extra_usage` (cents, whole
    percents) and one `limits` row per budget; a key with no budget gets its spend for the UTC month, day and
    week (`uncapped`: "monthly", "daily", "weekly" in USD) and no limits."""
    active = fullest(standings)
    if active is None:
        spent = uncapped or {}
        extra: dict[str, Any] = {
            "is_enabled": True,
            "monthly_limit": None,
            "used_credits": _cents(spent.get("monthly", 0.0)),
            "utilization": None,
            "currency": "USD",
        }
        for period in ("daily", "weekly"):
            if period in spent:
                extra[period] = {"limit": None, "used_credits": _cents(spent[period]), "utilization": None}
        return {"extra_usage": extra, "limits": []}
    return {
        "extra_usage": {
            "is_enabled": True,
            "monthly_limit": _cents(active.limit),
            "used_credits": _cents(active.spent),
            "utilization": _percent(active),
            "currency": "USD",
        },
        "limits": [
            {
                "kind": "spend",
                "group": s.period_name,
                "percent": _percent(s),
                "resets_at": _iso(s.resets_at),
                "severity": _severity(s),
                "is_active": s is active,
            }
            for s in standings
        ],
    }
