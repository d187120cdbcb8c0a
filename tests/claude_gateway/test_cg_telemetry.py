"""Claude Code's OTLP exports counted per session and shown in /api/sessions/{id} (``telemetry``), and relayed
verbatim to the spec's collectors without ever holding up the answer (bounded, a breaker per collector)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.claude_gateway.signin import ALICE, bearer, sign_in, signin_spec
from tests.conftest import running_server
from tests.integration.wired import Wired, compile_gateway, wired_server

pytestmark = pytest.mark.asyncio
SESSION = "5b0c7a1e-0000-4000-8000-00000000abcd"


def _attrs(**values: str) -> list[Any]:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    return [KeyValue(key=k.replace("_", "."), value=AnyValue(string_value=v)) for k, v in values.items()]


def metrics_export(*, added: int, cost: float, start: int, end: int) -> bytes:
    """What Claude Code's exporter sends: lines of code cumulative (one series since start 1), the rest delta."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.extend(_attrs(service_name="claude-code"))
    metrics = resource.scope_metrics.add().metrics
    cumulative, delta = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE, metrics_pb2.AGGREGATION_TEMPORALITY_DELTA

    def add(name: str, temporality: int, points: list[tuple[float, dict[str, str]]], window: tuple[int, int]) -> None:
        metric = metrics.add()
        metric.name = name
        metric.sum.aggregation_temporality = temporality
        metric.sum.is_monotonic = True
        for value, attrs in points:
            point = metric.sum.data_points.add()
            point.as_double = value
            point.start_time_unix_nano, point.time_unix_nano = window
            point.attributes.extend(_attrs(session_id=SESSION, **attrs))

    add("claude_code.lines_of_code.count", cumulative, [(added, {"type": "added"}), (3, {"type": "removed"})], (1, end))
    add("claude_code.cost.usage", delta, [(cost, {"model": "claude-sonnet-4-5"})], (start, end))
    add("claude_code.commit.count", delta, [(1, {})], (start, end))
    add("claude_code.active_time.total", delta, [(2.25, {"type": "cli"})], (start, end))
    add("claude_code.session.count", delta, [(1, {})], (start, end))  # not shown: kept raw only
    return request.SerializeToString()


def decision(value: str, when: int) -> dict[str, Any]:
    attrs = [("event.name", "tool_decision"), ("session.id", SESSION), ("decision", value), ("tool_name", "Edit")]
    return {
        "timeUnixNano": str(when),
        "body": {"stringValue": "claude_code.tool_decision"},
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs],
    }


def logs_export() -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeLogs": [{"logRecords": [decision("accept", 10), decision("accept", 11), decision("reject", 12)]}],
            }
        ]
    }


def pr_export() -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "claude_code.pull_request.count",
                                "sum": {
                                    "aggregationTemporality": 1,
                                    "dataPoints": [
                                        {
                                            "asInt": "1",
                                            "startTimeUnixNano": "5",
                                            "timeUnixNano": "6",
                                            "attributes": [{"key": "session.id", "value": {"stringValue": SESSION}}],
                                        }
                                    ],
                                },
                            }
                        ]
                    }
                ]
            }
        ]
    }


PG_DSN = os.environ.get("BIFROSTC_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/cgw_signin")


def _pg_reachable() -> bool:
    """The shared PostgreSQL answers; this test's own database is created on a machine that lacks it."""
    try:
        import psycopg

        try:
            psycopg.connect(PG_DSN, connect_timeout=2).close()
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                raise
            server, name = PG_DSN.rsplit("/", 1)
            with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=2) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except Exception:
        return False


@contextlib.asynccontextmanager
async def _gateway(tmp_path: Path, store: str) -> AsyncIterator[Wired]:
    spec = signin_spec(tmp_path)
    environ = {}
    if store == "postgres":
        if not _pg_reachable():
            pytest.skip(f"no PostgreSQL at {PG_DSN}")
        spec["observability"].update({"log_store": "postgres", "postgres_dsn_env": "TEST_PG_DSN"})
        environ["TEST_PG_DSN"] = PG_DSN
    async with wired_server(compile_gateway(tmp_path, spec, environ), environ) as wired:
        yield wired


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_the_session_view_sums_what_claude_code_reported_once_per_series(clock, tmp_path, store) -> None:
    global SESSION
    SESSION = f"5b0c7a1e-{uuid.uuid4()}"  # the PostgreSQL tables outlive a run: a session of its own
    async with _gateway(tmp_path, store) as wired:
        tokens = await sign_in(wired.http, wired.url, ALICE)
        auth = bearer(tokens["access_token"])
        proto = {**auth, "content-type": "application/x-protobuf"}
        exports = [
            metrics_export(added=10, cost=0.01, start=1, end=2),
            metrics_export(added=12, cost=0.02, start=2, end=3),  # lines_of_code: the same series, now 12
            metrics_export(added=12, cost=0.02, start=2, end=3),  # a retried export counts once
        ]
        for body in exports:
            answer = await wired.http.post(f"{wired.url}/claude-code/v1/metrics", content=body, headers=proto)
            assert answer.status_code == 200
        for _ in range(2):  # the same log batch twice: three decisions, not six
            answer = await wired.http.post(f"{wired.url}/claude-code/v1/logs", json=logs_export(), headers=auth)
            assert answer.status_code == 200
        answer = await wired.http.post(f"{wired.url}/claude-code/v1/metrics", json=pr_export(), headers=auth)
        assert answer.status_code == 200
        view = await wired.http.get(f"{wired.url}/api/sessions/{SESSION}")
        unknown = await wired.http.get(f"{wired.url}/api/sessions/no-such-session")
    assert view.status_code == 200, view.text
    assert view.json()["telemetry"] == {
        "tool_decisions": {"accept": 2, "reject": 1},
        "lines_of_code": {"added": 12, "removed": 3},
        "commits": 2,
        "pull_requests": 1,
        "active_time_seconds": 4.5,
        "cost_usd": pytest.approx(0.03),
    }
    assert view.json()["requests"] == 0  # Claude Code's figures stand on their own; the rows come from the log
    assert unknown.status_code == 404


async def test_a_session_with_gateway_rows_and_no_telemetry_has_null(serve) -> None:
    async with serve() as wired:
        tokens = await sign_in(wired.http, wired.url, ALICE)
        headers = {**bearer(tokens["access_token"]), "x-claude-code-session-id": "sess-rows-only"}
        body = {"model": "echo", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        answer = await wired.http.post(f"{wired.url}/claude-code/v1/messages", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        await wired.settled(1)
        view = await wired.http.get(f"{wired.url}/api/sessions/sess-rows-only")
    assert view.status_code == 200, view.text
    assert view.json()["requests"] == 1 and view.json()["telemetry"] is None


class Collector:
    """An OTLP/HTTP collector: records what it is sent, answering ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.received: list[tuple[str, str | None, bytes]] = []
        self.arrived = asyncio.Event()

    async def export(self, request: Request) -> Response:
        self.received.append((request.url.path, request.headers.get("content-type"), await request.body()))
        self.arrived.set()
        return Response(b"{}", status_code=self.status, media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/{signal}", self.export, methods=["POST"])])

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()


async def test_exports_are_relayed_verbatim_and_a_failing_collector_is_cut_off(serve, tmp_path) -> None:
    good, failing = Collector(200), Collector(503)
    async with running_server(good.app()) as good_url, running_server(failing.app()) as failing_url:
        spec = signin_spec(tmp_path)
        spec["observability"]["claude_code_telemetry"] = {"forward_to": [good_url, failing_url]}
        async with serve(spec) as wired:
            tokens = await sign_in(wired.http, wired.url, ALICE)
            proto = {**bearer(tokens["access_token"]), "content-type": "application/x-protobuf"}
            body = metrics_export(added=1, cost=0.5, start=1, end=2)
            for _ in range(5):  # the breaker's threshold: five failures in a row open it
                await wired.http.post(f"{wired.url}/claude-code/v1/metrics", content=body, headers=proto)
            await failing.wait_for(5)
            await good.wait_for(5)
            for _ in range(5):
                answer = await wired.http.post(f"{wired.url}/claude-code/v1/metrics", content=body, headers=proto)
                assert answer.status_code == 200
            await good.wait_for(10)
            relay = wired.parts.claude_code.relay if wired.parts.claude_code else None
    assert good.received[0] == ("/v1/metrics", "application/x-protobuf", body)
    assert len(failing.received) == 5  # open: the next five were not sent there
    assert relay is not None and relay.destinations[1].dropped == 5


async def test_a_collector_that_hangs_holds_up_nothing_and_only_max_in_flight_exports(serve, tmp_path) -> None:
    release = asyncio.Event()
    arrived: list[bytes] = []

    async def hang(request: Request) -> Response:
        arrived.append(await request.body())
        await release.wait()
        return Response(b"{}", media_type="application/json")

    collector = Starlette(routes=[Route("/v1/{signal}", hang, methods=["POST"])])
    async with running_server(collector) as url:
        spec = signin_spec(tmp_path)
        spec["observability"]["claude_code_telemetry"] = {"forward_to": [url], "max_in_flight": 2}
        async with serve(spec) as wired:
            tokens = await sign_in(wired.http, wired.url, ALICE)
            proto = {**bearer(tokens["access_token"]), "content-type": "application/x-protobuf"}
            body = metrics_export(added=1, cost=0.5, start=1, end=2)
            answers = [
                await wired.http.post(f"{wired.url}/claude-code/v1/metrics", content=body, headers=proto)
                for _ in range(5)
            ]
            relay = wired.parts.claude_code.relay if wired.parts.claude_code else None
            assert relay is not None
            destination = relay.destinations[0]
            in_flight, dropped = destination.in_flight, destination.dropped
            release.set()
    assert [a.status_code for a in answers] == [200] * 5  # answered while the collector still holds two
    assert (in_flight, dropped) == (2, 3)
