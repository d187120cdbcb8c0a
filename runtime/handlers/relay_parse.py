"""The canonical parse of a request every reachable target relays: only what this turn adds (issue 15).

A same-dialect passthrough sends the client's own JSON upstream (the provider request rules fit that JSON, not
canonical objects), so the history it carries is never translated. Parsing the whole conversation into canonical
objects anyway cost a Claude Code session more than everything else the gateway did (~1 ms of CPU per 200
messages). When nothing on the request's way needs the earlier messages, the canonical request holds only the
messages after the last assistant turn, with `ChatRequest.history_omitted` saying how many came before: the
request log's entry is the same as with the whole history (it logs what the turn adds), and a malformed earlier
message is the upstream's 400 to give, as it is for every other field the gateway relays without reading.

Nothing needs the earlier messages when: the gateway has no routing rules (they count messages), the cache is
off (its key is the whole conversation), the log keeps what a turn adds (not `log_full_history`), the body has a
content-length (budget admission sizes its hold from it), the route has no context window to check, and every
target the route may reach (its fallbacks, context and content-policy fallbacks) is served by passthrough.

The tool list is left out of the parse the same way (a Claude Code request offers a dozen or more, resent every
turn): only its count is used, for the log (`ChatRequest.tools_omitted`), and a malformed tool is the upstream's
400 as well, unless the list is not a list of objects (then the whole parse says so). A Responses request (Codex)
is cut by its own rule (`responses_request.split_input`): its new turn starts after the last item the parse
places in an assistant turn, and its leading system/developer messages (the system prompt) are parsed with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from bifrostc.runtime.dialects import ClientDialect, Inbound
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.translate.common import check_nesting
from bifrostc.runtime.types import ChatRequest

if TYPE_CHECKING:
    from bifrostc.runtime.app import GatewayRuntime
    from bifrostc.runtime.config import Route


class TurnRelaying(Protocol):
    """What a dialect whose relayed requests are parsed in part offers (Anthropic Messages, OpenAI Chat, OpenAI
    Responses: the new turn, no tools)."""

    history_key: str  # where its body keeps the conversation

    def parse(self, call: Inbound) -> ChatRequest: ...

    def split_history(self, messages: list[Any]) -> tuple[int, list[Any]] | None:
        """(canonical messages before the new turn, what to parse instead of ``messages``); None: the whole."""
        ...

    def tool_count(self, tools: object) -> int | None:
        """The canonical tools `parse` would make of the body's ``tools``; None: only the parse can tell."""
        ...


def parse_for(rt: GatewayRuntime, dialect: ClientDialect, call: Inbound, requested: str) -> ChatRequest:
    """`dialect.parse(call)`, or the same with only the new turn's messages and no tools when every target
    relays it; either way after the nesting check of what the gateway will serialize again (the whole body, or a
    relayed request's new turn and system parts), a 400 when that is deeper than orjson writes."""
    if getattr(dialect, "history_key", None) is None:
        return _whole(dialect, call)
    relaying = cast(TurnRelaying, dialect)
    body, key = call.body, relaying.history_key
    messages, tools = body.get(key), body.get("tools")
    if not isinstance(messages, list) or (len(messages) < 2 and not tools):
        return _whole(dialect, call)  # nothing worth leaving out
    split = relaying.split_history(messages)
    start, turn = split if split is not None else (0, messages)
    tools_omitted = relaying.tool_count(tools)
    if (start == 0 and not tools_omitted) or not _relayed(rt, dialect, call, requested):
        return _whole(dialect, call)
    tail = {**body, key: turn} if start else {**body}
    if tools_omitted is not None:
        tail.pop("tools", None)
    # What is serialized again: the turn's messages (by the parse, tool inputs; by the log) and the system prompt's
    # parts, whose only structure is their cache_control (serializing its texts would cost a Claude Code prompt's
    # UTF-8 encoding, ~28 KB, for a prompt the log mostly names by row: logged_prompts.py); one level of margin
    # for the row's own list. The rest goes upstream as the client's bytes, or through a serialization that
    # refuses it (http_base.open).
    check_nesting([[tail[key]]])
    try:
        chat = dialect.parse(Inbound(tail, call.params, call.endpoint, call.query, call.headers))
    except GatewayError:  # e.g. a tool result the tail alone cannot place: the whole parse says what is wrong
        return _whole(dialect, call)
    check_nesting([[[part.cache_control for part in chat.system]]])
    chat.history_omitted, chat.tools_omitted = start, tools_omitted or 0
    return chat


def _whole(dialect: ClientDialect, call: Inbound) -> ChatRequest:
    """The whole parse, of a body every part of which may be serialized again (translated, cached, logged)."""
    check_nesting(call.body)
    return dialect.parse(call)


def _relayed(rt: GatewayRuntime, dialect: ClientDialect, call: Inbound, requested: str) -> bool:
    gateway = rt.router.gateway
    if gateway.rules or gateway.cache.mode != "off" or gateway.observability.log_full_history:
        return False
    if "content-length" not in call.headers:
        return False
    try:
        route = rt.router.resolve(requested)
    except GatewayError:  # handle_chat answers it, after the whole parse (a bad body is a 400 before a 404)
        return False
    if route.context_window is not None:
        return False
    return all(_route_relays(rt, dialect, call, r) for r in _reachable(rt, route))


def _reachable(rt: GatewayRuntime, route: Route) -> list[Route]:
    """The route's chain and the chains of its context and content-policy fallbacks (Dispatcher.run)."""
    router = rt.router
    routes = list(router.chain(route))
    for name in (*route.context_fallbacks, *route.content_policy_fallbacks):
        try:
            routes.extend(router.chain(router.resolve(name)))
        except GatewayError:
            continue
    return routes


def _route_relays(rt: GatewayRuntime, dialect: ClientDialect, call: Inbound, route: Route) -> bool:
    adapters = rt.dispatcher.adapters
    for target in route.targets:
        adapter = adapters.get(target.provider)
        if adapter is None or not dialect.passthrough(adapter, call, target.model):
            return False
    return True
