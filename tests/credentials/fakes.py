"""Fake upstreams for the client's-own-credential tests, enforcing what the providers document.

The Anthropic fake takes a Claude subscription the way the Messages API does: ``Authorization: Bearer <OAuth
access token>`` with ``oauth-2025-04-20`` among the betas; any other token, a missing beta, or an x-api-key beside
it gets Anthropic's documented 401 ``authentication_error`` envelope. Its answers name the person the token belongs
to and count, so a cached answer served to the wrong person shows. The OpenAI fake takes only its own key.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.runtime.rt_fakes import anthropic_message, anthropic_text_stream, openai_completion, openai_text_stream

OAUTH_BETA = "oauth-2025-04-20"
BUSY = "busy"  # the person whose seat answers 529 overloaded


@dataclass
class Seen:
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)


def anthropic_401(message: str) -> Response:
    body = {"type": "error", "error": {"type": "authentication_error", "message": message}}
    return JSONResponse(body, status_code=401, headers={"x-should-retry": "false"})


Answer = Callable[[dict[str, Any], str], Response | None]  # (body, person) -> a scripted answer, or None


def subscription_anthropic(seats: dict[str, str], seen: Seen, answer: Answer | None = None) -> Starlette:
    """``seats``: OAuth access token -> person; ``answer`` scripts replies (default: a text naming the person)."""
    counter = itertools.count(1)

    def who(request: Request) -> str | Response:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or token not in seats or "x-api-key" in request.headers:
            return anthropic_401("Invalid bearer token")
        betas = {b.strip() for value in request.headers.getlist("anthropic-beta") for b in value.split(",")}
        if OAUTH_BETA not in betas:
            return anthropic_401("OAuth authentication is currently not supported.")
        return seats[token]

    async def messages(request: Request) -> Response:
        seen.headers.append(dict(request.headers))
        body = orjson.loads(await request.body())
        seen.bodies.append(body)
        person = who(request)
        if isinstance(person, Response):
            return person
        if person == BUSY:  # Anthropic's documented overload: the gateway's reason to fall back
            error = {"type": "overloaded_error", "message": "Overloaded"}
            return JSONResponse({"type": "error", "error": error}, status_code=529)
        scripted = answer(body, person) if answer is not None else None
        if scripted is not None:
            return scripted
        text = f"answer {next(counter)} for {person}"
        if body.get("stream"):
            return Response(anthropic_text_stream(text, model=body["model"]), media_type="text/event-stream")
        return JSONResponse(anthropic_message(text, model=body["model"]))

    async def count_tokens(request: Request) -> Response:
        seen.headers.append(dict(request.headers))
        person = who(request)
        return person if isinstance(person, Response) else JSONResponse({"input_tokens": 7})

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        ]
    )


def keyed_openai(key: str, seen: Seen, *others: str) -> Starlette:
    """OpenAI's Chat Completions, taking only ``Authorization: Bearer <key>`` (or one of ``others``; else its
    documented 401)."""
    accepted = {f"Bearer {k}" for k in (key, *others)}

    async def chat(request: Request) -> Response:
        seen.headers.append(dict(request.headers))
        body = orjson.loads(await request.body())
        seen.bodies.append(body)
        if request.headers.get("authorization") not in accepted:
            error = {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
            return JSONResponse({"error": error}, status_code=401)
        if body.get("stream"):
            return Response(openai_text_stream("quick answer"), media_type="text/event-stream")
        return JSONResponse(openai_completion("quick answer"))

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def everything_seen(*seen: Seen) -> str:
    """Every header and body the fakes received, as one text to search."""
    return "\n".join(orjson.dumps([s.headers, s.bodies]).decode() for s in seen)


def keyed_gemini(keys: set[str], seen: Seen) -> Starlette:
    """The Gemini API's generateContent, taking only ``x-goog-api-key`` values in ``keys`` (else its 400
    API_KEY_INVALID, as Google answers a bad key)."""

    async def generate(request: Request) -> Response:
        seen.headers.append(dict(request.headers))
        seen.bodies.append(orjson.loads(await request.body()))
        if request.headers.get("x-goog-api-key") not in keys:
            error = {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
            }
            return JSONResponse({"error": error}, status_code=400)
        reply = {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "gemini answer"}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
        }
        return JSONResponse(reply)

    return Starlette(routes=[Route("/v1beta/models/{model}:generateContent", generate, methods=["POST"])])
