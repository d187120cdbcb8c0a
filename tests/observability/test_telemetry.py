from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from bifrostc.runtime.config import Observability
from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.store_postgres import PostgresLogStore
from bifrostc.runtime.observability.store_sqlite import SqliteLogStore
from bifrostc.runtime.observability.telemetry import Telemetry, build_store


async def test_from_config_records_to_metrics_and_the_sqlite_log_and_serves_both(tmp_path):
    telemetry = Telemetry.from_config(Observability(sqlite_path=str(tmp_path / "gw.db")))
    assert isinstance(telemetry.sink.store, SqliteLogStore)
    assert not telemetry.tracer.enabled
    await telemetry.start()
    telemetry.record(RequestRecord(id="r1", route="sonnet", provider="anthropic", virtual_key="alice", cost_usd=1.0))
    await telemetry.sink.flush()
    app = Starlette(routes=telemetry.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        assert "bifrostc_requests_total" in (await client.get("/metrics")).text
        rows = (await client.get("/dashboard/api/logs")).json()["data"]
        assert [r["id"] for r in rows] == ["r1"]
    await telemetry.aclose()


def test_store_choice_follows_the_config():
    assert build_store(Observability(log_store="none")) is None
    pg = build_store(
        Observability(log_store="postgres", postgres_dsn_env="GW_PG"), {"GW_PG": "host=127.0.0.1 dbname=test"}
    )
    assert isinstance(pg, PostgresLogStore)
    with pytest.raises(RuntimeError, match="GW_PG"):
        build_store(Observability(log_store="postgres", postgres_dsn_env="GW_PG"), {})
    with pytest.raises(ValueError, match="log_store"):
        build_store(Observability(log_store="mongo"))


async def test_metrics_and_log_can_both_be_off():
    telemetry = Telemetry.from_config(Observability(log_store="none", metrics=False))
    await telemetry.start()
    telemetry.record(RequestRecord())
    assert telemetry.routes() == []
    await telemetry.aclose()
