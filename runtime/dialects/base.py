"""The client-dialect seam: what `handle_chat` and the route table ask of a dialect, and the pieces they share.

A dialect is one object (see `runtime/dialects/__init__.py` for the registry). It says which URLs it serves,
where a request keeps its model, stream flag and session (the body, or the URL's path parameters, as Gemini's
`/v1beta/models/{model}:streamGenerateContent` does), and turns bodies into canonical types and back through the
pure functions in `runtime/translate/`. It also knows its own wire for passthrough: how to relabel a relayed
body and how to read usage and the terminal frame out of relayed stream bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from bifrostc.runtime.dialects.relay import RelayReader
from bifrostc.runtime.errors import GatewayError, InvalidRequest
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One URL a dialect serves. `path` is a Starlette path template (`{model}` becomes a path parameter)."""

    path: str
    methods: tuple[str, ...] = ("POST",)
    stream: bool | None = None  # fixed by the URL (Gemini's :streamGenerateContent); None: the body says


@dataclass(frozen=True, slots=True)
class Inbound:
    """One client request as the dialect sees it: the JSON body and the URL it came on."""

    body: dict[str, Any]
    params: Mapping[str, str]  # path parameters of `endpoint.path`
    endpoint: Endpoint
    query: Mapping[str, str] = field(default_factory=dict)  # e.g. Gemini's ?alt=sse picks the stream framing
    headers: Mapping[str, str] = field(default_factory=dict)  # the client's request headers (case-insensitive)
    # The bytes `body` was parsed from, while it is unchanged: a relayed body is sent from them
    # (transport/request_bytes.py); empty once the body was rewritten (stored Responses state) or not kept.
    raw: bytes = b""


class EventEncoder(Protocol):
    """Canonical stream events -> the client's SSE bytes (one per request: encoders keep per-stream state)."""

    def encode(self, event: StreamEvent) -> bytes: ...


class ClientDialect(Protocol):
    """An inbound API the gateway speaks. `handle_chat` only ever talks to this."""

    name: str  # log/metrics label; also what a passthrough-capable adapter's `dialect` attribute says
    log_endpoint: str  # the request log's `endpoint` (messages | chat | responses)
    endpoints: tuple[Endpoint, ...]
    error_prefixes: tuple[str, ...]  # path prefixes whose router errors (404/405) render in this dialect
    keepalive: bytes  # one whole SSE frame a stream sends during upstream silences (`server.stream_ping_seconds`)

    def requested_model(self, call: Inbound) -> str:
        """The model the client asked for; an InvalidRequest when it is missing."""
        ...

    def parse(self, call: Inbound) -> ChatRequest:
        """The canonical request (its `stream` flag set from wherever this dialect keeps it)."""
        ...

    def session(self, call: Inbound) -> str | None:
        """What identifies the conversation, for session affinity (see Router.choose_target)."""
        ...

    def build_response(self, response: ChatResponse, call: Inbound) -> dict[str, Any]: ...

    def encoder(self, call: Inbound) -> EventEncoder: ...

    def error_body(self, exc: GatewayError) -> dict[str, Any]: ...

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        """Whether `adapter` may be sent the client's own body and its reply relayed unchanged; `model` is the
        upstream model (an OpenAI adapter serves some models on another API: `upstream_api`)."""
        ...

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        """A relayed (non-stream) body with the requested model name put back; parsed on the side for usage."""
        ...

    def relay_reader(self, call: Inbound) -> RelayReader:
        """Reads usage, output and the terminal frame out of relayed stream bytes, with this dialect's parsers
        (and leaves out what the gateway asked the upstream for and `call` did not: `SSERelayReader`'s drop)."""
        ...


class BodyDialect:
    """Shared by dialects that keep the model and the session in the JSON body (all three built in)."""

    def requested_model(self, call: Inbound) -> str:
        return model_in_body(call.body)

    def session(self, call: Inbound) -> str | None:
        return session_of(call)


def speaks(adapter: object, dialect: str) -> bool:
    """An adapter serves passthrough when it speaks the client's dialect and has a `passthrough` method."""
    return getattr(adapter, "dialect", None) == dialect and hasattr(adapter, "passthrough")


def upstream_api(adapter: object, model: str) -> str:
    """The API `adapter` calls `model` on: "responses" or "chat" (adapters without the choice: "chat")."""
    api = getattr(adapter, "api", None)
    return str(api(model)) if callable(api) else "chat"


def model_in_body(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: field required (a non-empty string)")
    return model


# Claude Code names its session on every request; its agents and request classes with hint headers on.
SESSION_HEADER = "x-claude-code-session-id"
MAX_SESSION_CHARS = 200  # client-chosen text: what affinity hashes and the log keeps, bounded
_LEGACY_USER_ID_SESSION = re.compile(r"_session_([0-9A-Za-z-]+)$")  # user_<hash>_account_<uuid>_session_<uuid>


def session_of(call: Inbound) -> str | None:
    """Claude Code's `x-claude-code-session-id` header, else what the body says (`session_in_body`)."""
    header = call.headers.get(SESSION_HEADER)
    if header:
        return header[:MAX_SESSION_CHARS]
    return session_in_body(call.body)


def session_in_body(body: Mapping[str, Any]) -> str | None:
    """Codex's prompt_cache_key, the session id inside Claude Code's metadata.user_id (else the whole user_id),
    else the OpenAI end-user fields."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str):
        user_id = claude_code_session(user_id) or user_id
    for value in (body.get("prompt_cache_key"), user_id, body.get("user"), body.get("safety_identifier")):
        if isinstance(value, str) and value:
            return value[:MAX_SESSION_CHARS]
    return None


def claude_code_session(user_id: str) -> str | None:
    """The session id Claude Code puts in metadata.user_id: a JSON object's `session_id` (2.x), or the
    `_session_<uuid>` tail of the older `user_<hash>_account_<uuid>_session_<uuid>` form."""
    if user_id.startswith("{"):
        try:
            data = orjson.loads(user_id)
        except orjson.JSONDecodeError:
            return None
        session = data.get("session_id") if isinstance(data, dict) else None
        return session if isinstance(session, str) and session else None
    legacy = _LEGACY_USER_ID_SESSION.search(user_id)
    return legacy.group(1) if legacy else None


def relabel_model(
    raw: bytes, model: str, parse: Callable[[dict[str, Any]], ChatResponse]
) -> tuple[bytes, ChatResponse | None]:
    """Upstream bytes with top-level `model` set back to the requested name, parsed with `parse` for usage.
    (Re-serialising measured faster than an in-place byte swap: see tests/runtime/test_rt_relabel.py.)"""
    try:
        data = orjson.loads(raw)
        parsed = parse(data)
    except (orjson.JSONDecodeError, GatewayError, KeyError, TypeError, ValueError, AttributeError):
        return raw, None
    if data.get("model") != model:
        data["model"] = model
        raw = orjson.dumps(data)
    parsed.model = model
    return raw, parsed
