"""The chat pipeline behind every client dialect's chat endpoints (the dialects are objects: runtime/dialects).

authenticate -> read body -> parse -> route -> before_call -> cache lookup -> dispatch (retries, fallbacks) ->
respond. A target whose adapter speaks the client's dialect is served by passthrough: the client's body with
only `model` rewritten goes upstream and upstream bytes come back unchanged. This module names no dialect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime.context import LogRecord, RequestContext
from bifrostc.runtime.dialects import ClientDialect, Endpoint, Inbound
from bifrostc.runtime.dialects.base import EventEncoder
from bifrostc.runtime.dialects.relay import Tally
from bifrostc.runtime.dispatch import Attempt, PrimedStream, first_byte, prime
from bifrostc.runtime.errors import GatewayError, InvalidRequest, RequestTooLarge, UpstreamError
from bifrostc.runtime.handlers.errors import error_response
from bifrostc.runtime.handlers.relay_parse import parse_for
from bifrostc.runtime.handlers.streaming import LazyEncoder, RelayResponse, StreamRelay
from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.responses_store.turn import Turn, owner_of
from bifrostc.runtime.responses_store.turn import begin as begin_turn
from bifrostc.runtime.rules import capacity_needed, pick_route
from bifrostc.runtime.translate import replay
from bifrostc.runtime.translate.common import ANTHROPIC_BETAS, check_nesting
from bifrostc.runtime.transport import credentials
from bifrostc.runtime.transport.passthrough import raw_event_stream, raw_stream, upstream_bytes
from bifrostc.runtime.types import ChatRequest, ChatResponse, MessageStart, StreamEvent, Usage

if TYPE_CHECKING:
    from bifrostc.runtime.app import GatewayRuntime
    from bifrostc.runtime.config import Route

log = logging.getLogger("bifrostc.chat")
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
NO_QUERY: Mapping[str, str] = MappingProxyType({})


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object body. Call it only once the caller is authenticated: reading is what costs memory."""
    body, _ = await read_object(request)
    check_nesting(body)
    return body


async def read_object(request: Request) -> tuple[dict[str, Any], bytes]:
    """The JSON object body and its bytes, its nesting not checked yet (`relay_parse.parse_for` checks what the
    gateway will serialize again)."""
    raw = await _read_capped(request, int(request.app.state.runtime.router.gateway.server.max_request_mb * 2**20))
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body, raw


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


@dataclass(frozen=True, slots=True)
class Exchange:
    """One chat request on its way through the pipeline, once it is authenticated and parsed."""

    rt: GatewayRuntime
    ctx: RequestContext
    dialect: ClientDialect
    call: Inbound
    chat: ChatRequest
    request: Request
    turn: Turn | None = None  # a stored-Responses turn: its answer is kept under turn.id (runtime/responses_store)


async def handle_chat(request: Request, dialect: ClientDialect, endpoint: Endpoint) -> Response:
    rt: GatewayRuntime = request.app.state.runtime  # one snapshot: a hot reload never changes it mid-request
    ctx = RequestContext(dialect=dialect.name, endpoint=dialect.log_endpoint, headers=request.headers)
    chat: ChatRequest | None = None
    try:
        # The key is checked on the headers alone, before a byte of the body is read (a 401, not a 400 for bad
        # JSON; and unauthenticated uploads cost no memory).
        ctx.credential = credentials.of_request(rt.credential_salt, request.headers, dialect.name)  # auth: passthrough
        ctx.key = await rt.hooks.authenticate(request.headers, ctx)
        query = request.query_params if request.scope.get("query_string") else NO_QUERY  # parsed only when there
        body, raw = await read_object(request)
        call = Inbound(body, request.path_params, endpoint, query, request.headers, raw)
        turn = None
        if getattr(dialect, "stateful", False):  # stored state resolved into the body before it is parsed
            store = getattr(request.app.state, "responses_store", None)
            body, turn = await begin_turn(store, owner_of(ctx), call.body)
            if body is not call.body:  # stored state resolved into it: the client's bytes no longer say it
                call = replace(call, body=body, raw=b"")
        ctx.requested_model = dialect.requested_model(call)
        chat = ctx.chat = parse_for(rt, dialect, call, ctx.requested_model)  # relayed: only the new turn, checked
        if betas := ",".join(request.headers.getlist("anthropic-beta")):  # Bedrock and Vertex take them in the body
            chat.extra[ANTHROPIC_BETAS] = betas
        ctx.stream = chat.stream
        ctx.session = dialect.session(call)
        needed = capacity_needed(rt.router, ctx.key)  # budget_used & co. read the shared counters, if any rule asks
        levels = await rt.hooks.capacity(ctx, needed) if needed else None
        route, rule = pick_route(rt.router, ctx, chat, call.body, levels)
        ctx.routed, ctx.rule = route.name, rule.name if rule is not None else None
        await rt.hooks.before_call(ctx, route)
        exchange = Exchange(rt, ctx, dialect, call, chat, request, turn)
        cached = await rt.hooks.cache_lookup(ctx, chat)
        if cached is not None:
            ctx.cache_hit = True
            return await _respond_cached(exchange, cached)
        return await (_stream if ctx.stream else _send)(exchange, route)
    except GatewayError as exc:
        ctx.status, ctx.error = exc.status, exc.detail
        await finish(rt, ctx, chat, None, None)
        return error_response(dialect.name, exc, ctx.response_headers())


async def _relay(ex: Exchange, attempt: Attempt) -> UpstreamReply:
    """The client's own body sent upstream (`dialect.passthrough` said this adapter speaks it)."""
    adapter: Any = attempt.adapter  # `passthrough` is not on the ProviderAdapter Protocol
    reply: UpstreamReply = await adapter.passthrough(
        ex.call.body,
        model=attempt.model,
        api_key=attempt.api_key,
        client_headers=ex.request.headers,
        stream=ex.ctx.stream,  # for dialects whose URL says it (Gemini); the others' bodies say it too
        raw=ex.call.raw,
    )
    return reply


async def _send(ex: Exchange, route: Route) -> Response:
    async def attempt_once(attempt: Attempt) -> ChatResponse | bytes:
        if ex.dialect.passthrough(attempt.adapter, ex.call, attempt.model):
            return await upstream_bytes(await _relay(ex, attempt), attempt.provider.name)
        response: ChatResponse = await attempt.adapter.send(ex.chat, model=attempt.model, api_key=attempt.api_key)
        return response

    ctx = ex.ctx
    result = await ex.rt.dispatcher.run(ctx, route, attempt_once)
    if isinstance(result, bytes):
        ctx.passthrough = True
        content, response = ex.dialect.relabel(result, ctx.requested_model)
    else:
        result.model = ctx.requested_model
        response = result
        content = await _built(ex, result)
    usage = None
    if response is not None:  # an upstream that counted nothing is billed an estimate, flagged as such
        usage, ctx.usage_estimated = Tally.of_response(response).billed(ex.call.body)
        ctx.finish_reason = response.stop_reason
    await finish(ex.rt, ctx, ex.chat, response, usage)
    return Response(content, media_type="application/json", headers=ctx.response_headers())


async def _stream(ex: Exchange, route: Route) -> Response:
    async def attempt_once(attempt: Attempt) -> PrimedStream[Any]:
        if ex.dialect.passthrough(attempt.adapter, ex.call, attempt.model):
            async with first_byte(attempt):  # the header wait; `prime` bounds the first event
                reply = await _relay(ex, attempt)
            relay = raw_event_stream if getattr(ex.dialect, "relay_framing", "sse") == "eventstream" else raw_stream
            return await prime(attempt, relay(reply, attempt.provider.name))
        return await prime(attempt, attempt.adapter.stream(ex.chat, model=attempt.model, api_key=attempt.api_key))

    ctx = ex.ctx
    ping_seconds = ex.rt.router.gateway.server.stream_ping_seconds
    # An upstream that answers within one keep-alive interval gets the usual response (its status and headers);
    # a slower one (retries, fallbacks, a first event that takes its time) is waited for behind keep-alives, and a
    # failure then reaches the client as the dialect's error event.
    dispatch = asyncio.ensure_future(ex.rt.dispatcher.run(ctx, route, attempt_once))
    try:
        await asyncio.wait({dispatch}, timeout=ping_seconds)
    except asyncio.CancelledError:
        dispatch.cancel()
        raise
    upstream: PrimedStream[Any] | asyncio.Future[PrimedStream[Any]] = dispatch
    headers = {**SSE_HEADERS, "x-request-id": ctx.request_id}  # who serves is not known yet
    if dispatch.done():
        upstream = dispatch.result()  # a failure: the plain error response (handle_chat)
        headers = {**SSE_HEADERS, **ctx.response_headers()}

    async def done(usage: Usage | None, response: ChatResponse | None) -> None:
        await finish(ex.rt, ctx, ex.chat, response, usage)

    encoder: EventEncoder = LazyEncoder(lambda: ex.dialect.encoder(ex.call))
    on_frame = None
    if ex.turn is not None:  # a stored turn is never relayed: its encoder keeps the response it sends
        encoder = turn_encoder = TurnEncoder(ex.dialect.encoder(ex.call), ex.turn)
        on_frame = turn_encoder.keep
    relay = StreamRelay(
        ctx,
        upstream,
        encoder,
        lambda: ex.dialect.relay_reader(ex.call),
        ex.call.body,
        done,
        keepalive=ex.dialect.keepalive,
        ping_seconds=ping_seconds,
        on_frame=on_frame,
    )
    return RelayResponse(relay, {**headers, **stream_headers(ex.dialect)})


async def _built(ex: Exchange, response: ChatResponse) -> bytes:
    """The dialect's response body; a stored-Responses turn answers under its own id and keeps what it sent."""
    if ex.turn is not None:
        response = replace(response, id=ex.turn.id)
    built = ex.dialect.build_response(response, ex.call)
    if ex.turn is not None:
        await ex.turn.remember(built)
    return orjson.dumps(built)


class TurnEncoder:
    """A stored Responses turn's stream: it starts under the turn's response id, and `keep` stores the response
    the terminal event carried (the dialect encoder's `response`) before that frame is sent."""

    def __init__(self, inner: EventEncoder, turn: Turn) -> None:
        self.inner, self.turn, self.kept = inner, turn, False

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, MessageStart):
            event = replace(event, id=self.turn.id)
        return self.inner.encode(event)

    async def keep(self) -> None:
        response = getattr(self.inner, "response", None)
        if not self.kept and isinstance(response, dict):
            self.kept = True
            await self.turn.remember(response)


def stream_headers(dialect: ClientDialect) -> dict[str, str]:
    """The dialect's own stream media type when it is not SSE (Bedrock's binary event stream)."""
    media_type: str | None = getattr(dialect, "stream_media_type", None)
    return {"content-type": media_type} if media_type else {}


async def _respond_cached(ex: Exchange, cached: ChatResponse) -> Response:
    ctx = ex.ctx
    cached.model = ctx.requested_model
    ctx.finish_reason = cached.stop_reason
    await finish(ex.rt, ctx, ex.chat, None, cached.usage)
    if not ctx.stream:
        content = await _built(ex, cached)
        return Response(content, media_type="application/json", headers=ctx.response_headers())
    encoder = ex.dialect.encoder(ex.call)  # the replay has the shape this client asked for (usage chunk or not)
    if ex.turn is not None:
        encoder = TurnEncoder(encoder, ex.turn)
    frames = b"".join(encoder.encode(ev) for ev in replay.response_to_events(cached))
    if isinstance(encoder, TurnEncoder):
        await encoder.keep()
    return Response(
        frames,
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **stream_headers(ex.dialect), **ctx.response_headers()},
    )


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
        # Always: tokens an upstream produced are billed even when the request failed later (a dropped
        # stream), and a budget hold placed at admission is released when nothing was used.
        await hooks.after_call(ctx, usage)
        if response is not None and chat is not None and ctx.error is None and not ctx.cache_hit:
            await hooks.cache_store(ctx, chat, response)
        await hooks.on_log(LogRecord(ctx, rt.clock() - ctx.started, chat, response))
    except (GatewayError, UpstreamError, OSError, RuntimeError, ValueError) as exc:
        log.warning("request %s: a post-request hook failed: %s", ctx.request_id, exc)
