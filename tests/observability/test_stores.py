"""One behaviour suite, run against both relational stores (see the log_store fixture)."""

from __future__ import annotations

import pytest

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.store import LogFilter, LogStore


def _record(**fields) -> RequestRecord:
    base = {"ts": 1_700_000_000.0, "provider": "anthropic", "requested_model": "sonnet", "route": "sonnet"}
    return RequestRecord(**{**base, **fields})


async def test_a_written_record_reads_back_with_every_field_and_its_bodies(log_store: LogStore):
    record = _record(
        virtual_key="alice",
        stream=True,
        cache_hit=True,
        temperature=0.25,
        cost_usd=0.0123,
        latency_ms=812.5,
        request_messages=[{"role": "user", "content": [{"text": "hi"}]}],
        response_content=[{"text": "hello"}],
    )
    await log_store.write_batch([record])
    row = await log_store.get(record.id)
    assert row is not None
    assert {k: v for k, v in row.items() if k != "seq"} == record.to_dict()
    assert row["stream"] is True and row["fallback_used"] is False


async def test_get_of_an_unknown_id_is_none(log_store: LogStore):
    assert await log_store.get("req_missing") is None


async def test_query_lists_newest_first_without_bodies(log_store: LogStore):
    records = [_record(ts=1_700_000_000.0 + i, request_messages=["x"]) for i in range(3)]
    await log_store.write_batch(records)
    rows = await log_store.query(LogFilter())
    assert [r["id"] for r in rows] == [r.id for r in reversed(records)]
    assert "request_messages" not in rows[0]


async def test_query_filters_by_model_key_provider_and_status(log_store: LogStore):
    await log_store.write_batch(
        [
            _record(id="a", requested_model="sonnet", virtual_key="alice", status=200),
            _record(id="b", requested_model="gpt-4o", route="gpt-4o", provider="openai", virtual_key="bob", status=200),
            _record(id="c", requested_model="sonnet", virtual_key="bob", status=529, error_type="overloaded_error"),
            _record(id="d", requested_model="opus", route="opus", upstream_model="claude-opus-4", status=400),
        ]
    )

    async def ids(**filters) -> set[str]:
        return {r["id"] for r in await log_store.query(LogFilter(**filters))}

    assert await ids(model="sonnet") == {"a", "c"}
    assert await ids(model="claude-opus-4") == {"d"}
    assert await ids(key="bob") == {"b", "c"}
    assert await ids(provider="openai") == {"b"}
    assert await ids(status="error") == {"c", "d"}
    assert await ids(status="5xx") == {"c"}
    assert await ids(status="200") == {"a", "b"}
    assert await ids(status="ok", key="bob") == {"b"}


async def test_unknown_status_filter_is_a_value_error(log_store: LogStore):
    with pytest.raises(ValueError, match="status filter"):
        await log_store.query(LogFilter(status="teapot"))


async def test_query_pages_with_limit_and_before_id_and_honours_since(log_store: LogStore):
    await log_store.write_batch([_record(id=f"r{i}", ts=1000.0 + i) for i in range(5)])
    first = await log_store.query(LogFilter(limit=2))
    assert [r["id"] for r in first] == ["r4", "r3"]
    second = await log_store.query(LogFilter(limit=2, before_id=first[-1]["seq"]))
    assert [r["id"] for r in second] == ["r2", "r1"]
    assert [r["id"] for r in await log_store.query(LogFilter(since=1003.0))] == ["r4", "r3"]


async def test_spend_by_key_sums_cost_and_tokens_per_virtual_key(log_store: LogStore):
    await log_store.write_batch(
        [
            _record(virtual_key="alice", cost_usd=0.5, input_tokens=10, output_tokens=1, ts=10.0),
            _record(virtual_key="alice", cost_usd=0.25, input_tokens=5, output_tokens=2, ts=20.0),
            _record(virtual_key="bob", cost_usd=0.1, input_tokens=1, output_tokens=1, ts=30.0),
        ]
    )
    spend = await log_store.spend_by_key()
    assert [s["key"] for s in spend] == ["alice", "bob"]
    assert spend[0]["requests"] == 2
    assert spend[0]["cost_usd"] == pytest.approx(0.75)
    assert (spend[0]["input_tokens"], spend[0]["output_tokens"], spend[0]["last_ts"]) == (15, 3, 20.0)
    recent = await log_store.spend_by_key(since=15.0)
    assert {s["key"]: s["requests"] for s in recent} == {"alice": 1, "bob": 1}


async def test_prune_deletes_only_rows_older_than_the_cutoff(log_store: LogStore, monkeypatch: pytest.MonkeyPatch):
    from bifrostc.runtime.observability import store as store_module

    monkeypatch.setattr(store_module, "PRUNE_CHUNK", 2)  # several short chunks, like a big first prune
    monkeypatch.setattr("bifrostc.runtime.observability.store_sqlite.PRUNE_CHUNK", 2)
    monkeypatch.setattr("bifrostc.runtime.observability.store_postgres.PRUNE_CHUNK", 2)
    old = [_record(id=f"old{i}", ts=1_000.0 + i) for i in range(5)]
    new = [_record(id=f"new{i}", ts=2_000.0 + i) for i in range(2)]
    await log_store.write_batch([*old, *new])
    assert await log_store.prune(2_000.0) == 5
    assert {r["id"] for r in await log_store.query(LogFilter())} == {"new0", "new1"}
    assert await log_store.prune(2_000.0) == 0
