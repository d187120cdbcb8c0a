"""Loading out/routing.py, hot reload, and streaming through a real uvicorn server."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

import anthropic
import httpx
import pytest
from rt_fakes import Upstream, anthropic_text_stream, app_for, gateway, provider, sse_reply

from bifrostc.runtime.http_server import GuardedHttpToolsProtocol
from bifrostc.runtime.loadout import LoadoutError, load_gateway
from bifrostc.runtime.server import RoutingWatcher, build_server_app

ROUTING = """
from bifrostc.runtime.config import Gateway, Provider, Route, Target

FORMAT_VERSION = {version}
SOURCE_SHA256 = "0" * 64
GATEWAY = Gateway(
    providers={{"mock": Provider(name="mock", type="mock", base_url="")}},
    routes={{"{route}": Route(name="{route}", targets=(Target(provider="mock", model="m"),))}},
)
"""


def write_routing(out: pathlib.Path, route: str = "first", version: int = 1, bump: int = 0) -> pathlib.Path:
    """routing.py and the MANIFEST.json `bifrostc build` would write with it (serve refuses one without)."""
    out.mkdir(exist_ok=True)
    path = out / "routing.py"
    path.write_text(ROUTING.format(version=version, route=route))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / "MANIFEST.json").write_text(json.dumps({"files": {"routing.py": digest}}))
    stamp = path.stat().st_mtime_ns + bump * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))
    return path


def test_load_gateway_and_errors(tmp_path):
    write_routing(tmp_path)
    assert set(load_gateway(tmp_path).routes) == {"first"}
    with pytest.raises(LoadoutError, match="not found"):
        load_gateway(tmp_path / "missing")
    write_routing(tmp_path, version=99)
    with pytest.raises(LoadoutError, match="FORMAT_VERSION is 99"):
        load_gateway(tmp_path)
    (tmp_path / "routing.py").write_text("GATEWAY = (")
    with pytest.raises(LoadoutError, match="modified since bifrostc build"):
        load_gateway(tmp_path)
    with pytest.raises(LoadoutError, match="failed to import"):
        load_gateway(tmp_path, allow_modified=True)


async def test_hot_reload_swaps_and_keeps_old_on_bad_file(tmp_path):
    write_routing(tmp_path, "first")
    app = build_server_app(tmp_path, reload=False)
    watcher = RoutingWatcher(app, tmp_path / "routing.py")
    watcher.prime()
    old_runtime = app.state.runtime
    assert watcher.check() is False
    write_routing(tmp_path, "second", bump=1)
    assert watcher.check() is True
    assert set(app.state.runtime.gateway.routes) == {"second"}
    assert set(old_runtime.gateway.routes) == {"first"}  # in-flight requests keep their snapshot
    (tmp_path / "routing.py").write_text("this is not python")
    assert watcher.check() is False
    assert set(app.state.runtime.gateway.routes) == {"second"}


async def test_in_flight_stream_finishes_on_old_gateway_after_swap(live_server):
    from bifrostc.runtime.app import swap_gateway

    release = __import__("asyncio").Event()

    def slow_stream(_request: httpx.Request) -> httpx.Response:
        async def body():
            frames = anthropic_text_stream("old ", "route")
            yield frames[:400]
            await release.wait()
            yield frames[400:]

        return sse_reply(body())

    gw = gateway([provider("ant", "anthropic", key_env="UP_KEY")], {"main": [("ant", "c")]})
    app = app_for(gw, Upstream(default={"ant.test": slow_stream}))
    async with live_server(app) as base:
        client = anthropic.AsyncAnthropic(base_url=f"{base}/anthropic", api_key="x")
        async with client.messages.stream(
            model="main", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            events = stream.__aiter__()
            first = await events.__anext__()
            assert first.type == "message_start"
            swap_gateway(app, gateway([provider("mock", "mock")], {"other": [("mock", "m")]}))
            release.set()
            final = await stream.get_final_message()
        assert final.content[0].text == "old route"
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.create(model="main", max_tokens=5, messages=[{"role": "user", "content": "x"}])


async def test_hooks_factory_follows_reloads(tmp_path):
    from bifrostc.runtime.context import Hooks

    built: list[set[str]] = []

    def factory(gw):
        built.append(set(gw.routes))
        return Hooks()

    write_routing(tmp_path, "first")
    app = build_server_app(tmp_path, reload=False, hooks_factory=factory)
    watcher = RoutingWatcher(app, tmp_path / "routing.py")
    watcher.prime()
    write_routing(tmp_path, "second", bump=1)
    assert watcher.check() is True
    assert built == [{"first"}, {"second"}]


@pytest.mark.parametrize(
    ("argument", "env", "expected"),
    [(None, None, False), (None, "1", True), (True, None, True), (False, "1", False)],
)
def test_serve_uses_uvloop_httptools_and_access_log_off_unless_asked(tmp_path, monkeypatch, argument, env, expected):
    import logging

    import uvicorn

    from bifrostc.runtime import server

    write_routing(tmp_path)
    seen: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: seen.append(self.config))
    if env is None:
        monkeypatch.delenv(server.ACCESS_LOG_ENV, raising=False)
    else:
        monkeypatch.setenv(server.ACCESS_LOG_ENV, env)
    server.serve(tmp_path, port=0, reload=False, hooks=None, access_log=argument)
    (config,) = seen
    assert config.access_log is False  # uvicorn's line is replaced by bifrostc.access (key, model, cost)
    assert logging.getLogger("bifrostc.access").isEnabledFor(logging.INFO) is expected
    assert config.loop == "uvloop"
    assert issubclass(config.http, GuardedHttpToolsProtocol)  # httptools, with header limits
