"""The chat pipeline shared by POST /anthropic/v1/messages, /v1/chat/completions and /v1/responses.

authenticate -> parse -> route -> before_call -> cache lookup -> dispatch (retries, fallbacks) -> respond.
A target whose adapter speaks the client's dialect is served by passthrough: the client's body with only
`model` rewritten goes upstream and upstream bytes come back unchanged. No adapter speaks the Responses
dialect, so Responses clients are always served through the canonical types.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bifrostc.runtime.context import Dialect, LogRecord, RequestContext
from bifrostc.runtime.dispatch import Attempt, PrimedStream, prime
from bifrostc.runtime.errors import GatewayError, InvalidRequest, RequestTooLarge, UpstreamError
from bifrostc.runtime.handlers.errors import error_response
from bifrostc.runtime.handlers.streaming import event_stream, raw_stream, upstream_bytes
from bifrostc.runtime.translate import replay
from bifrostc.runtime.translate.common import check_nesting
from bifrostc.runtime.types import ChatRequest, ChatResponse, Usage

if TYPE_CHECKING:
    from bifrostc.runtime.app import GatewayRuntime

log = logging.getLogger("bifrostc.chat")
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def translator(dialect: Dialect) -> ModuleType:
    return importlib.import_module(f"bifrostc.runtime.translate.{dialect}")


async def read_json(request: Request) -> dict[str, Any]:
    raw = await _read_capped(request, int(request.app.state.runtime.router.gateway.server.max_request_mb * 2**20))
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    check_nesting(body)
    return body


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused with a 413 as soon as it is known to exceed ``limit`` (declared or while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise RequestTooLarge(f"request body of {int(declared)} bytes exceeds the gateway's limit of {limit}")
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():  # chunked upload: count as it arrives
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"request body exceeds the gateway's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def session_of(body: dict[str, Any]) -> str | None:
    """What identifies the conversation: Codex's prompt_cache_key, Claude Code's metadata.user_id (it carries
    the session id), else the OpenAI end-user fields."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    for value in (body.get("prompt_cache_key"), user_id, body.get("user"), body.get("safety_identifier")):
        if isinstance(value, str) and value:
            return value
    return None


def requested_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: field required (a non-empty string)")
    return model


async def handle_chat(request: Request, dialect: Dialect, endpoint: str) -> Response:
    rt: GatewayRuntime = request.app.state.runtime  # one snapshot: a hot reload never changes it mid-request
    ctx = RequestContext(dialect=dialect, endpoint=endpoint, headers=request.headers)
    chat_request: ChatRequest | None = None
    try:
        body = await read_json(request)
        ctx.key = await rt.hooks.authenticate(request.headers, ctx)
        ctx.requested_model = requested_model(body)
        chat_request = translator(dialect).parse_request(body)
        ctx.stream = chat_request.stream
        ctx.session = session_of(body)
        route = rt.router.resolve(ctx.requested_model)
        await rt.hooks.before_call(ctx, route)
        cached = await rt.hooks.cache_lookup(ctx, chat_request)
        if cached is not None:
            ctx.cache_hit = True
            return await _respond_cached(rt, ctx, chat_request, cached, body)
        if ctx.stream:
            return await _stream(rt, ctx, route, body, chat_request, request)
        return await _send(rt, ctx, route, body, chat_request, request)
    except GatewayError as exc:
        ctx.status, ctx.error = exc.status, exc.message
        await finish(rt, ctx, chat_request, None, None)
        return error_response(dialect, exc, ctx.response_headers())


def _passthrough_ok(attempt: Attempt, ctx: RequestContext, body: dict[str, Any]) -> bool:
    adapter = attempt.adapter
    if getattr(adapter, "dialect", None) != ctx.dialect or not hasattr(adapter, "passthrough"):
        return False
    if ctx.dialect == "openai" and ctx.stream and getattr(adapter, "stream_usage", False):
        # Without include_usage an OpenAI stream carries no usage to bill; the canonical path asks for it.
        options = body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))
    return True


async def _send(
    rt: GatewayRuntime, ctx: RequestContext, route: Any, body: dict[str, Any], chat: ChatRequest, request: Request
) -> Response:
    async def call(attempt: Attempt) -> ChatResponse | bytes:
        if _passthrough_ok(attempt, ctx, body):
            response = await attempt.adapter.passthrough(
                body, model=attempt.model, api_key=attempt.api_key, client_headers=request.headers
            )
            return await upstream_bytes(response, attempt.provider.name)
        return await attempt.adapter.send(chat, model=attempt.model, api_key=attempt.api_key)

    result = await rt.dispatcher.run(ctx, route, call)
    module = translator(ctx.dialect)
    if isinstance(result, bytes):
        ctx.passthrough = True
        content, response = _relabel_passthrough(module, result, ctx.requested_model)
    else:
        result.model = ctx.requested_model
        response = result
        content = orjson.dumps(_build_response(module, ctx.dialect, result, body))
    await finish(rt, ctx, chat, response, response.usage if response else None)
    return Response(content, media_type="application/json", headers=ctx.response_headers())


def _relabel_passthrough(module: ModuleType, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
    """Upstream bytes with `model` set back to the requested name; parsed on the side for usage and caching."""
    try:
        data = orjson.loads(raw)
        parsed = module.parse_response(data)
    except (orjson.JSONDecodeError, GatewayError, KeyError, TypeError, ValueError):
        return raw, None
    if data.get("model") != model:
        data["model"] = model
        raw = orjson.dumps(data)
    parsed.model = model
    return raw, parsed


async def _stream(
    rt: GatewayRuntime, ctx: RequestContext, route: Any, body: dict[str, Any], chat: ChatRequest, request: Request
) -> Response:
    async def call(attempt: Attempt) -> PrimedStream[Any]:
        if _passthrough_ok(attempt, ctx, body):
            response = await attempt.adapter.passthrough(
                body, model=attempt.model, api_key=attempt.api_key, client_headers=request.headers
            )
            return await prime(attempt, raw_stream(response, attempt.provider.name))
        return await prime(attempt, attempt.adapter.stream(chat, model=attempt.model, api_key=attempt.api_key))

    primed = await rt.dispatcher.run(ctx, route, call)
    ctx.passthrough = isinstance(primed.first, bytes)
    encoder = _encoder(ctx.dialect, body)

    async def done(usage: Usage | None, response: ChatResponse | None) -> None:
        await finish(rt, ctx, chat, response, usage)

    stream = event_stream(ctx, primed, encoder, done)
    return StreamingResponse(stream, media_type="text/event-stream", headers={**SSE_HEADERS, **ctx.response_headers()})


def _encoder(dialect: Dialect, body: dict[str, Any]) -> Any:
    module = translator(dialect)
    if dialect == "openai":
        options = body.get("stream_options") or {}
        return module.StreamEncoder(include_usage=bool(isinstance(options, dict) and options.get("include_usage")))
    if dialect == "responses":
        return module.StreamEncoder(request=body)  # a response object repeats the request's settings
    return module.StreamEncoder()


def _build_response(module: ModuleType, dialect: Dialect, response: ChatResponse, body: dict[str, Any]) -> Any:
    if dialect == "responses":
        return module.build_response(response, request=body)
    return module.build_response(response)


async def _respond_cached(
    rt: GatewayRuntime, ctx: RequestContext, chat: ChatRequest, cached: ChatResponse, body: dict[str, Any]
) -> Response:
    cached.model = ctx.requested_model
    await finish(rt, ctx, chat, None, cached.usage)
    module = translator(ctx.dialect)
    if not ctx.stream:
        content = orjson.dumps(_build_response(module, ctx.dialect, cached, body))
        return Response(content, media_type="application/json", headers=ctx.response_headers())
    encoder = _encoder(ctx.dialect, body)  # the replay has the shape this client asked for (usage chunk or not)
    frames = b"".join(encoder.encode(ev) for ev in replay.response_to_events(cached))
    return Response(frames, media_type="text/event-stream", headers={**SSE_HEADERS, **ctx.response_headers()})


async def finish(
    rt: GatewayRuntime,
    ctx: RequestContext,
    chat: ChatRequest | None,
    response: ChatResponse | None,
    usage: Usage | None,
) -> None:
    """Run the after-hooks; a failing hook is logged and never breaks the response."""
    ctx.usage = usage
    hooks = rt.hooks
    try:
        # Tokens an upstream produced are billed even when the request failed later (a dropped stream).
        if not ctx.cache_hit and (ctx.error is None or usage is not None):
            await hooks.after_call(ctx, usage)
        if response is not None and chat is not None and ctx.error is None and not ctx.cache_hit:
            await hooks.cache_store(ctx, chat, response)
        await hooks.on_log(LogRecord(ctx, rt.clock() - ctx.started, chat, response))
    except (GatewayError, UpstreamError, OSError, RuntimeError, ValueError) as exc:
        log.warning("request %s: a post-request hook failed: %s", ctx.request_id, exc)
