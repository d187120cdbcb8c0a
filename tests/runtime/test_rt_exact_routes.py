"""Fixed paths are served by one dict lookup (runtime/exact_routes.py), which must never change which route
answers: an earlier route matching the same path still wins, a wrong method still gets Starlette's 405, and a
path with parameters still takes the walk."""

from __future__ import annotations

from rt_fakes import Upstream, app_for, asgi_client, gateway, provider
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def _app(extra: list[Route]) -> object:
    gw = gateway([provider("mock", "mock")], {"quick": [("mock", "mock-1")]})
    return app_for(gw, Upstream(), extra_routes=extra)


async def _mine(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"extra {request.url.path}")


async def test_chat_endpoints_answer_and_wrong_methods_still_get_405() -> None:
    async with asgi_client(_app([])) as http:
        done = await http.post(
            "/v1/chat/completions", json={"model": "quick", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert done.status_code == 200 and done.json()["choices"][0]["message"]["content"] == "hi"
        refused = await http.get("/v1/chat/completions")
        assert refused.status_code == 405
        listed = await http.get("/v1/models/quick")  # a path parameter: the walk
        assert listed.status_code == 200


async def test_an_earlier_route_for_the_same_path_still_wins() -> None:
    async with asgi_client(_app([Route("/v1/chat/{rest:path}", _mine, methods=["POST"])])) as http:
        shadowed = await http.post("/v1/chat/completions", json={})
        assert shadowed.text == "extra /v1/chat/completions"
        other = await http.post("/anthropic/v1/messages", json={"model": "quick", "max_tokens": 5, "messages": []})
        assert other.headers["content-type"].startswith("application/json")  # the gateway's own endpoint
