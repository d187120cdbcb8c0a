"""POST /anthropic/v1/messages/count_tokens and POST /v1/embeddings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bifrostc.runtime import config
from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.dialects import DIALECTS, tokenizer
from bifrostc.runtime.dialects.base import Inbound, model_in_body
from bifrostc.runtime.dialects.relay import prompt_estimate
from bifrostc.runtime.dispatch import Attempt
from bifrostc.runtime.errors import GatewayError, NotSupported, UpstreamError
from bifrostc.runtime.handlers.chat import finish, read_json
from bifrostc.runtime.handlers.errors import error_response
from bifrostc.runtime.rules import capacity_needed, pick_route
from bifrostc.runtime.transport import credentials
from bifrostc.runtime.types import Usage

log = logging.getLogger("bifrostc.count_tokens")

if TYPE_CHECKING:
    from bifrostc.runtime.app import GatewayRuntime


ANTHROPIC = next(d for d in DIALECTS if d.name == "anthropic")  # count_tokens is the Messages API's
# The provider type whose counting API answered, or the estimate's tokenizer (estimate-cl100k, estimate-bytes).
COUNT_SOURCE = "x-bifrostc-token-count-source"


def _counted(body: dict[str, Any], source: str, rule: config.Rule | None) -> Response:
    headers = {COUNT_SOURCE: source} | ({"x-bifrostc-rule": rule.name} if rule is not None else {})
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


async def _routed(
    rt: GatewayRuntime, ctx: RequestContext, body: dict[str, Any], request: Request
) -> tuple[config.Route, config.Rule | None]:
    """The route the gateway's messages endpoint would take for this body: the routing rules see it as an
    Anthropic messages request (no max_tokens: count_tokens takes none), then the model string."""
    if not rt.router.gateway.rules:
        return rt.router.resolve(ctx.requested_model), None
    call = Inbound(body, {}, ANTHROPIC.endpoints[0], request.query_params, request.headers)
    try:
        chat = ANTHROPIC.parse(call)
    except GatewayError:  # a body the messages endpoint would refuse: counted for its model string
        return rt.router.resolve(ctx.requested_model), None
    seen = RequestContext(dialect=ANTHROPIC.name, endpoint=ANTHROPIC.log_endpoint, headers=request.headers)
    seen.key, seen.requested_model, seen.session = ctx.key, ctx.requested_model, ANTHROPIC.session(call)
    needed = capacity_needed(rt.router, ctx.key)
    levels = await rt.hooks.capacity(seen, needed) if needed else None
    return pick_route(rt.router, seen, chat, body, levels)


async def count_tokens(request: Request) -> Response:
    """The counting API of the first target the key may use (Anthropic's count_tokens, Gemini's and Vertex's
    countTokens, Bedrock's CountTokens), else an estimate; the answer's header says which."""
    rt: GatewayRuntime = request.app.state.runtime
    ctx = RequestContext(dialect="anthropic", endpoint="count_tokens", headers=request.headers)
    try:
        ctx.credential = credentials.of_request(rt.credential_salt, request.headers, "anthropic")
        ctx.key = await rt.hooks.authenticate(request.headers, ctx)  # before the body is read (see handle_chat)
        body = await read_json(request)
        ctx.requested_model = model_in_body(body)
        route, rule = await _routed(rt, ctx, body, request)
        await rt.hooks.authorize(ctx, route)  # grants apply; counting admits nothing and costs nothing
        allowed = ctx.provider_filter or (lambda _provider: True)
        target = next((t for t in route.targets if allowed(t.provider)), None)
        adapter: Any = rt.dispatcher.adapters.get(target.provider) if target else None
        provider = rt.router.gateway.providers[target.provider] if target is not None else None
        forwarded = credentials.for_provider(provider, ctx.credential) if provider is not None else None
        usable = provider is not None and (forwarded is not None or provider.auth != "passthrough")
        if target is not None and provider is not None and usable and hasattr(adapter, "count_tokens"):
            key = rt.router.choose_key(provider, target.model, lambda k: k.env in rt.dispatcher.secrets)
            try:
                with credentials.sending(provider.name, forwarded):
                    result = await adapter.count_tokens(
                        body,
                        model=target.model,
                        api_key=rt.dispatcher.secrets.get(key.env) if key and forwarded is None else None,
                        client_headers=request.headers,
                    )
                return _counted(result, provider.type, rule)
            except UpstreamError as exc:  # an estimate beats an error for a token count
                log.info("request %s: %s could not count tokens: %s", ctx.request_id, provider.name, exc.message)
        await tokenizer.ready()
        return _counted({"input_tokens": prompt_estimate(body)}, tokenizer.source(), rule)
    except GatewayError as exc:
        return error_response("anthropic", exc)


def _embedding_usage(result: dict[str, Any]) -> Usage | None:
    """Embeddings bill prompt tokens only; upstreams report them as usage.prompt_tokens."""
    usage = result.get("usage")
    if not isinstance(usage, dict):
        return None
    return Usage(input_tokens=int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0))


async def embeddings(request: Request) -> Response:
    rt: GatewayRuntime = request.app.state.runtime
    ctx = RequestContext(dialect="openai", endpoint="embeddings", headers=request.headers)
    try:
        ctx.credential = credentials.of_request(rt.credential_salt, request.headers, "openai")
        ctx.key = await rt.hooks.authenticate(request.headers, ctx)  # before the body is read (see handle_chat)
        body = await read_json(request)
        ctx.requested_model = model_in_body(body)
        route = rt.router.resolve(ctx.requested_model)
        await rt.hooks.before_call(ctx, route)

        async def call(attempt: Attempt) -> dict[str, Any]:
            if not hasattr(attempt.adapter, "embeddings"):
                raise NotSupported(f"provider '{attempt.provider.name}' does not serve embeddings")
            result: dict[str, Any] = await attempt.adapter.embeddings(
                body, model=attempt.model, api_key=attempt.api_key
            )
            return result

        result = await rt.dispatcher.run(ctx, route, call)
        result["model"] = ctx.requested_model
        await finish(rt, ctx, None, None, _embedding_usage(result))
        return Response(orjson.dumps(result), media_type="application/json", headers=ctx.response_headers())
    except GatewayError as exc:
        ctx.status, ctx.error = exc.status, exc.detail
        await finish(rt, ctx, None, None, None)
        return error_response("openai", exc, ctx.response_headers())
