"""Properties of the usage-limit headers (`governance/usage.py`) for any spend of any budget: the thresholds
Claude Code's notice keys on, a utilization kept below 1 while requests are admitted, and a report that agrees
with the headers to the second."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bifrostc.runtime.config import Budget
from bifrostc.runtime.governance.keys import Scope
from bifrostc.runtime.governance.usage import Standing, allowed_headers, rejected_headers, usage_report

U = "anthropic-ratelimit-unified-"
MONEY = st.floats(min_value=0, max_value=1e6, allow_nan=False)
RESET = st.floats(min_value=1e9, max_value=4e9)


def standing(spent: float, limit: float, reset: float, kind: str = "key") -> Standing:
    return Standing(Scope(kind, "k", Budget(limit, "1M")), spent, limit, "1M", reset)  # type: ignore[arg-type]


@given(MONEY, st.floats(min_value=0.01, max_value=1e6), RESET)
def test_admitted_answers_warn_past_75_and_95_percent(spent: float, limit: float, reset: float) -> None:
    s = standing(spent, limit, reset)
    if s.exceeded:
        return
    headers = allowed_headers(s)
    used = spent / limit
    expected = "0.95" if used > 0.95 else "0.75" if used > 0.75 else None
    assert headers.get(f"{U}overage-surpassed-threshold") == expected
    assert headers[f"{U}status"] == ("allowed_warning" if expected else "allowed") == headers[f"{U}overage-status"]
    assert 0 <= float(headers[f"{U}overage-utilization"]) <= 0.99
    assert headers[f"{U}reset"] == headers[f"{U}overage-reset"] == str(int(reset))


@given(MONEY, st.floats(min_value=0.01, max_value=1e6), RESET, st.sampled_from(["key", "team", "customer"]))
def test_a_refusal_leaves_out_the_claims_that_would_replace_the_gateways_sentence(
    spent: float, limit: float, reset: float, kind: str
) -> None:
    headers = rejected_headers(standing(spent, limit, reset, kind))
    assert headers[f"{U}status"] == "rejected" and f"{U}representative-claim" not in headers
    assert f"{U}overage-status" not in headers and headers[f"{U}overage-period"] == "monthly"
    assert (headers.get(f"{U}overage-scope") == "group_pool") is (kind != "key")


@given(MONEY, st.floats(min_value=0.01, max_value=1e6), RESET)
def test_the_usage_report_describes_the_headers_budget_at_the_same_instant(
    spent: float, limit: float, reset: float
) -> None:
    s = standing(spent, limit, reset)
    report = usage_report([s])
    (row,) = report["limits"]
    assert datetime.strptime(row["resets_at"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC).timestamp() == int(reset)
    assert report["extra_usage"]["monthly_limit"] == int(limit * 100 + 1e-9) and row["is_active"] is True
    assert isinstance(report["extra_usage"]["used_credits"], int) and isinstance(row["percent"], int)
