"""Observability of the wired gateway: request-log rows, no secrets at rest, /metrics, dashboard, OTel traces."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import running_server
from tests.integration.wired import (
    DOLLAR_PER_TOKEN,
    FakeUpstreams,
    Wired,
    base_spec,
    compile_gateway,
    openai_completion,
    user,
    wired_server,
)

KEY = "sk-bfc-observed-0123456789abcdef"
ENV = {"OBS_KEY": KEY, "ADMIN_KEY": "admin-0123456789", "LLM_KEY": "sk-upstream-llm-0123456789"}
SECRETS = (KEY, ENV["LLM_KEY"], ENV["ADMIN_KEY"])


def _spec(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"]["admin_key_env"] = "ADMIN_KEY"
    spec["providers"]["llm"] = {"type": "openai", "base_url": "http://llm.test/v1", "api_key_env": "LLM_KEY"}
    spec["models"]["chat"] = {"target": "llm/gpt-chat", "pricing": dict(DOLLAR_PER_TOKEN)}
    spec["virtual_keys"] = [{"name": "observed", "key_env": "OBS_KEY"}]
    spec["cache"] = {"mode": "exact"}
    return spec


async def _llm(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=openai_completion("from the fake llm", json.loads(request.content)["model"]))


@pytest.fixture
async def served(tmp_path: Path):
    gateway = compile_gateway(tmp_path, _spec(tmp_path), ENV)
    upstreams = FakeUpstreams(**{"llm.test": _llm})
    async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
        yield wired


async def _traffic(wired: Wired) -> None:
    """Four requests: plain, streamed, a cache hit and one with an upstream key in play."""
    anth = wired.anthropic(KEY)
    await anth.messages.create(model="echo", max_tokens=16, messages=user("log me"))
    stream = await wired.openai(KEY).chat.completions.create(model="echo", messages=user("stream me"), stream=True)
    async for _chunk in stream:
        pass
    await anth.messages.create(model="echo", max_tokens=16, messages=user("log me"))
    await anth.messages.create(model="chat", max_tokens=16, messages=user("through the llm"))


async def test_log_rows_carry_usage_cost_latency_provider_and_key(served: Wired) -> None:
    await _traffic(served)
    rows = list(reversed(await served.logs(4)))
    plain, streamed, hit, upstream = rows
    assert [r["virtual_key"] for r in rows] == ["observed"] * 4
    assert [r["status"] for r in rows] == [200] * 4
    assert [r["cache_hit"] for r in rows] == [False, False, True, False]
    assert [r["provider"] for r in rows] == ["mock", "mock", None, "llm"]  # the cache, not a provider, answered
    assert plain["dialect"] == "anthropic" and streamed["dialect"] == "openai" and streamed["stream"]
    for row in (plain, streamed):
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0
        assert row["cost_usd"] == pytest.approx(row["output_tokens"])  # $1 per output token
    assert hit["cost_usd"] == 0
    assert upstream["upstream_model"] == "gpt-chat" and upstream["output_tokens"] == 2
    assert upstream["cost_usd"] == pytest.approx(2.0)
    assert all(r["latency_ms"] is not None and r["latency_ms"] >= 0 for r in rows)


async def test_secrets_never_reach_the_log_api_or_the_database_file(served: Wired, tmp_path: Path) -> None:
    await _traffic(served)
    with pytest.raises(anthropic.AuthenticationError):  # a mistyped key is refused and logged without its value
        await served.anthropic(KEY + "x").messages.create(model="echo", max_tokens=16, messages=user("hi"))
    rows = await served.logs(5)
    details = [(await served.http.get(f"{served.url}/api/logs/{r['id']}", headers=_admin())).text for r in rows]
    assert any("log me" in d for d in details)  # bodies are logged: the check below is not vacuous
    exposed = json.dumps(rows) + "".join(details)
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("gw.db*"))
    assert b"log me" in stored
    for secret in SECRETS:
        assert secret not in exposed
        assert secret.encode() not in stored


async def test_metrics_count_requests_tokens_cost_and_cache_hits(served: Wired) -> None:
    await _traffic(served)
    await served.logs(4)
    text = (await served.http.get(f"{served.url}/metrics", headers=_admin())).text  # require_key is on
    assert 'bifrostc_requests_total{dialect="anthropic",provider="mock",route="echo",status="200"} 1.0' in text
    assert 'bifrostc_requests_total{dialect="anthropic",provider="",route="echo",status="200"} 1.0' in text
    assert 'bifrostc_requests_total{dialect="openai",provider="mock",route="echo",status="200"} 1.0' in text
    assert 'bifrostc_requests_total{dialect="anthropic",provider="llm",route="chat",status="200"} 1.0' in text
    assert "bifrostc_cache_hits_total 1.0" in text
    assert 'bifrostc_tokens_total{direction="output"}' in text
    assert "bifrostc_cost_usd_total" in text and "bifrostc_request_duration_seconds_bucket" in text


def _admin() -> dict[str, str]:
    return {"authorization": f"Bearer {ENV['ADMIN_KEY']}"}


async def test_dashboard_pages_and_api_need_the_admin_key(served: Wired) -> None:
    http, url = served.http, served.url
    for path in ("/", "/logs"):
        assert (await http.get(f"{url}{path}")).status_code == 401
        page = await http.get(f"{url}{path}", headers=_admin())
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in ("/api/logs", "/api/spend", "/api/overview", "/api/probe"):
        assert (await http.get(f"{url}{path}")).status_code == 401
        assert (await http.get(f"{url}{path}", headers={"x-api-key": KEY})).status_code == 401
        assert (await http.get(f"{url}{path}", headers={"x-admin-key": ENV["ADMIN_KEY"]})).status_code == 200
    # The login form POSTs the key once; a cookie carries the session. A key in the URL opens nothing.
    async with httpx.AsyncClient(base_url=url) as browser:
        assert (await browser.get("/logs", params={"key": ENV["ADMIN_KEY"]})).status_code == 401
        login = await browser.post("/login", data={"key": ENV["ADMIN_KEY"], "next": "/logs"})
        assert login.status_code == 303 and login.headers["location"] == "/logs"
        assert ENV["ADMIN_KEY"] not in login.headers["location"] + login.headers["set-cookie"]
        assert (await browser.get("/api/logs")).status_code == 200
        foreign = {"origin": "http://evil.example"}  # login CSRF: a foreign page cannot sign a browser in
        assert (await browser.post("/login", data={"key": "x"}, headers=foreign)).status_code == 403


class FakeCollector:
    """An OTLP/HTTP trace collector: decodes ExportTraceServiceRequest bodies into span dicts."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.traces, methods=["POST"])])

    async def traces(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans += [_span_dict(span) for span in scope_spans.spans]
        return Response(b"", media_type="application/x-protobuf")


def _span_dict(span: Any) -> dict[str, Any]:
    attributes = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        attributes[kv.key] = getattr(kv.value, kind) if kind != "array_value" else None
    return {"name": span.name, "attributes": attributes}


async def test_spans_with_genai_attributes_reach_an_otlp_collector(tmp_path: Path) -> None:
    collector = FakeCollector()
    async with running_server(collector.app) as collector_url:
        spec = _spec(tmp_path)
        spec["observability"] |= {"otlp_endpoint": collector_url, "service_name": "bifrostc-it"}
        upstreams = FakeUpstreams(**{"llm.test": _llm})
        gateway = compile_gateway(tmp_path, spec, ENV)
        async with wired_server(gateway, ENV, transport=upstreams.transport()) as wired:
            await wired.anthropic(KEY).messages.create(model="chat", max_tokens=16, messages=user("trace me"))
            await wired.waiter.wait_for(1)
        # Leaving the server ran its lifespan shutdown, which flushes the batch span processor.
    (span,) = collector.spans
    attributes = span["attributes"]
    assert span["name"] == "chat chat"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "llm"
    assert attributes["gen_ai.request.model"] == "chat"
    assert attributes["gen_ai.response.model"] == "gpt-chat"
    assert attributes["gen_ai.usage.output_tokens"] == 2
    assert attributes["bifrostc.virtual_key"] == "observed"
    assert KEY not in json.dumps(collector.spans)


async def test_dashboard_is_locked_when_the_admin_key_env_var_is_unset(tmp_path: Path) -> None:
    environ = {k: v for k, v in ENV.items() if k != "ADMIN_KEY"}
    gateway = compile_gateway(tmp_path, _spec(tmp_path), environ)
    async with wired_server(gateway, environ) as wired:
        for path in ("/", "/logs", "/api/logs", "/api/spend"):
            assert (await wired.http.get(f"{wired.url}{path}")).status_code == 401
        # require_key with no admin key or metrics token to read /metrics with: a valid gateway key does.
        assert (await wired.http.get(f"{wired.url}/metrics")).status_code == 401
        assert (await wired.http.get(f"{wired.url}/metrics", headers={"x-api-key": KEY})).status_code == 200


async def test_the_response_request_id_names_its_log_row(served: Wired) -> None:
    raw = await served.anthropic(KEY).messages.with_raw_response.create(
        model="echo", max_tokens=16, messages=user("which row?")
    )
    (row,) = await served.logs(1)
    assert raw.headers["x-request-id"] == row["id"]
