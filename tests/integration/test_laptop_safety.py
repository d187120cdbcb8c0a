"""Issue 10 item 9: a web page the developer visits can neither read the prompt log nor spend their keys.

The gateway is served on a real 127.0.0.1 port, wired as `bifrostc serve` wires it. A browser is stood in for by
the headers it sends: a rebinding page's ``Host``, a cross-site ``Origin`` / ``Sec-Fetch-Site`` and the
``text/plain`` body a form or no-cors fetch may post without a CORS preflight. The official SDKs send none of
these and keep working.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.integration.wired import base_spec, compile_gateway, user, wired_server

BODY = json.dumps({"model": "echo", "max_tokens": 8, "messages": user("spend the developer's keys")})
VIRTUAL_KEY, ADMIN_KEY, METRICS_TOKEN = "team-key-0123456789abcdef", "admin-key-0123456789", "scrape-0123456789ab"


def _quickstart(tmp_path: Path) -> dict[str, Any]:
    spec = base_spec(tmp_path / "gw.db")
    spec["server"] = {}  # the quickstart: no keys, no admin key, 127.0.0.1
    return spec


@pytest.fixture
async def laptop(tmp_path: Path):
    async with wired_server(compile_gateway(tmp_path, _quickstart(tmp_path))) as wired:
        yield wired


async def test_a_rebinding_page_cannot_read_the_log_or_call_a_model(laptop) -> None:
    http, url = laptop.http, laptop.url
    evil = {"host": f"rebind.evil.example:{url.rsplit(':', 1)[1]}"}
    logs = await http.get(f"{url}/api/logs", headers=evil)
    assert logs.status_code == 403 and "allowed_hosts" in logs.text
    chat = await http.post(
        f"{url}/anthropic/v1/messages", content=BODY, headers={**evil, "content-type": "application/json"}
    )
    assert chat.status_code == 403 and chat.json()["error"]["type"] == "permission_error"  # Anthropic's dialect
    for host in ("127.0.0.1", "localhost", "[::1]"):  # loopback names stay served
        assert (await http.get(f"{url}/api/logs", headers={"host": f"{host}:8080"})).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"content-type": "text/plain;charset=UTF-8", "origin": "https://evil.example"}, 403),
        ({"content-type": "application/json", "sec-fetch-site": "cross-site"}, 403),
        ({"content-type": "application/json", "origin": "http://localhost:3000"}, 403),  # another local app
        ({"content-type": "text/plain"}, 415),
        ({"content-type": "application/x-www-form-urlencoded"}, 415),
    ],
)
async def test_cross_site_browser_posts_are_refused_in_the_callers_dialect(laptop, headers, status) -> None:
    http, url = laptop.http, laptop.url
    for path, dialect_type in (("/anthropic/v1/messages", "type"), ("/v1/chat/completions", "message")):
        response = await http.post(f"{url}{path}", content=BODY, headers=headers)
        assert response.status_code == status, response.text
        assert dialect_type in response.json()["error"]
    assert laptop.waiter.records == []  # nothing reached a provider or the log


async def test_same_origin_and_sdk_requests_still_work(laptop) -> None:
    http, url = laptop.http, laptop.url
    origin = {"origin": url, "content-type": "application/json", "sec-fetch-site": "same-origin"}
    assert (await http.post(f"{url}/anthropic/v1/messages", content=BODY, headers=origin)).status_code == 200
    claude = anthropic.AsyncAnthropic(base_url=f"{url}/anthropic", api_key="x", max_retries=0)
    assert (await claude.messages.create(model="echo", max_tokens=8, messages=user("hi"))).content
    gpt = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    assert (await gpt.chat.completions.create(model="echo", messages=user("hi"))).choices


async def test_the_dashboard_cannot_be_framed_sniffed_or_made_to_run_foreign_script(laptop) -> None:
    for path in ("/", "/api/logs"):
        response = await laptop.http.get(f"{laptop.url}{path}")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "'sha256-" in csp


@pytest.fixture
async def keyed(tmp_path: Path):
    spec = base_spec(tmp_path / "gw.db")
    spec["server"] = {"require_key": True, "admin_key_env": "ADMIN_KEY"}
    spec["observability"]["metrics_token_env"] = "METRICS_TOKEN"
    spec["virtual_keys"] = [{"name": "team", "key_env": "TEAM_KEY"}]
    env = {"TEAM_KEY": VIRTUAL_KEY, "ADMIN_KEY": ADMIN_KEY, "METRICS_TOKEN": METRICS_TOKEN}
    async with wired_server(compile_gateway(tmp_path, spec, env), env) as wired:
        yield wired


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_with_require_key_metrics_models_and_health_detail_need_a_key(keyed) -> None:
    http, url = keyed.http, keyed.url
    assert (await http.get(f"{url}/metrics")).status_code == 401
    assert (await http.get(f"{url}/metrics", headers=_bearer(VIRTUAL_KEY))).status_code == 401  # names all tenants
    assert (await http.get(f"{url}/metrics", headers=_bearer(METRICS_TOKEN))).status_code == 200  # Prometheus
    assert (await http.get(f"{url}/metrics", headers={"x-admin-key": ADMIN_KEY})).status_code == 200
    anonymous = await http.get(f"{url}/anthropic/v1/models")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "authentication_error"
    assert (await http.get(f"{url}/v1/models")).json()["error"]["code"] == "invalid_api_key"
    listed = await openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=VIRTUAL_KEY, max_retries=0).models.list()
    assert [m.id for m in listed.data] == ["echo"]
    assert (await http.get(f"{url}/health")).json() == {"status": "ok"}  # probes still answered
    detail = (await http.get(f"{url}/health", headers=_bearer(VIRTUAL_KEY))).json()
    assert detail["status"] == "ok" and detail["routes"] == 1
    assert (await http.get(f"{url}/health/live")).status_code != 401


async def test_without_require_key_the_lists_stay_open(laptop) -> None:
    http, url = laptop.http, laptop.url
    assert (await http.get(f"{url}/metrics")).status_code == 200
    assert (await http.get(f"{url}/v1/models")).status_code == 200
    assert "routes" in (await http.get(f"{url}/health")).json()


def test_host_names_strip_ports_brackets_and_case() -> None:
    from bifrostc.runtime.security import host_name

    assert [host_name(h) for h in ("LocalHost:8080", "[::1]:80", "127.0.0.1", "gw.example.")] == [
        "localhost",
        "::1",
        "127.0.0.1",
        "gw.example",
    ]


async def test_allowed_hosts_serves_a_named_host(tmp_path: Path) -> None:
    spec = _quickstart(tmp_path)
    spec["server"] = {"allowed_hosts": ["gateway.internal"]}
    async with wired_server(compile_gateway(tmp_path, spec)) as wired:
        ok = await wired.http.get(f"{wired.url}/health", headers={"host": "gateway.internal:8080"})
        assert ok.status_code == 200
        assert (await wired.http.get(f"{wired.url}/health", headers={"host": "other.internal"})).status_code == 403
        assert (await wired.http.get(f"{wired.url}/health")).status_code == 200  # loopback names always
