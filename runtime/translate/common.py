"""Helpers shared by the dialect translators: JSON, input checks, stop reasons, reasoning effort, ids.

``ChatRequest.extra`` convention: keys without a leading underscore are wire fields of the inbound dialect.
``extra["_source"]`` names that dialect; a builder of the same dialect forwards all of them (so new API fields
pass through untouched), a builder of another dialect forwards none, and for requests with no ``_source`` a
builder forwards only the fields its allow-list names. Other keys with a leading underscore are gateway-private
hints (per-tool options the canonical types cannot hold); builders read them but never forward them as-is.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.types import StopReason, Usage

PDF = "application/pdf"  # canonical ImagePart with this media type is a document (Anthropic) / file (OpenAI)

# Private ``extra`` keys (see module docstring).
SOURCE = "_source"  # "anthropic" | "openai": the dialect the request was parsed from
ANTHROPIC_SERVER_TOOLS = "_anthropic_server_tools"  # list of raw server-tool dicts (web_search_..., bash_...)
ANTHROPIC_TOOL_OPTIONS = "_anthropic_tool_options"  # {tool name: {"defer_loading": True, ...}}
OPENAI_TOOL_STRICT = "_openai_tool_strict"  # {tool name: bool}
ANTHROPIC_BETAS = "_anthropic_betas"  # the client's anthropic-beta values, for hosts that take them in the body


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def wire_extras(extra: dict[str, Any], dialect: str, allowed: frozenset[str]) -> dict[str, Any]:
    """The ``extra`` fields a ``dialect`` builder may put on the wire (see module docstring)."""
    source = extra.get(SOURCE)
    if source is not None and source != dialect:
        return {}
    return {k: v for k, v in extra.items() if not k.startswith("_") and (source == dialect or k in allowed)}


def arguments_to_object(arguments: str) -> dict[str, Any]:
    """Tool-call arguments as the object Anthropic wants; truncated or non-object JSON becomes {}."""
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


# --- input checks: one clear InvalidRequest message naming the JSON path ---------------------------
# Every field a parser reads goes through one of these, so a wrong type is a 400 in the caller's dialect and
# never a TypeError (a 500) further down, in a builder, an adapter or the request log.

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite, PostgreSQL and the providers' JSON decoders hold
MAX_NESTING = 254  # the deepest body orjson can serialize again (passthrough, upstream bodies, the log)


def expect_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where}: expected an object, got {_kind(value)}")
    return value


def expect_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}: expected an array, got {_kind(value)}")
    return value


def expect_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: expected a string, got {_kind(value)}")
    return value


def optional_str(value: Any, where: str) -> str | None:
    return None if value is None else expect_str(value, where)


def optional_dict(value: Any, where: str) -> dict[str, Any] | None:
    return None if value is None else expect_dict(value, where)


def optional_bool(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequest(f"{where}: expected a boolean, got {_kind(value)}")
    return value


def optional_int(value: Any, where: str, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int | None:
    """An integer within [minimum, maximum] (int64 by default: a larger one would reach the log and the
    providers' decoders, which cannot hold it)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{where}: expected an integer, got {_kind(value)}")
    if not minimum <= value <= maximum:
        raise InvalidRequest(f"{where}: expected an integer from {minimum} to {maximum}, got {value}")
    return value


def optional_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{where}: expected a number, got {_kind(value)}")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise InvalidRequest(f"{where}: expected a number from {INT64_MIN} to {INT64_MAX}, got {value}")
    return value


def check_nesting(body: Any) -> None:
    """Refuse a body nested deeper than ``MAX_NESTING``: orjson reads up to 1024 levels but writes only 254, so
    a deeper body would fail later (passthrough, upstream request, log). Serializing is the check: it costs
    about a tenth of the parse (0.6 ms per MB) and no Python-level walk."""
    try:
        orjson.dumps(body)
    except orjson.JSONEncodeError:
        raise too_deep() from None


def too_deep() -> InvalidRequest:
    """The 400 for a body orjson cannot serialize again (also raised where a relayed body is serialized)."""
    return InvalidRequest(f"request body: JSON nested deeper than {MAX_NESTING} levels")


def count_tools(tools: Any, canonical: Callable[[dict[str, Any]], bool]) -> int | None:
    """How many canonical tools a dialect's parse makes of a body's ``tools`` (``canonical``: the entries it
    parses into `Tool`s), without parsing them; None when they are not a list of objects (the parse says what is
    wrong). A relayed request logs this count instead of parsing its tools (handlers/relay_parse.py)."""
    if not tools:
        return 0
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        return None
    return sum(1 for tool in tools if canonical(tool))


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}


def split_at_new_turn(messages: list[Any]) -> tuple[int, list[Any]] | None:
    """A relayed chat conversation (Anthropic Messages, OpenAI Chat: one JSON message per canonical one) cut after
    its last assistant message, `observability.records.new_turn_start`'s rule over the raw JSON: how many came
    before and the new turn's; None when nothing comes before (or a message is not an object, or the turn ends in
    the assistant's: a prefill, the whole is this turn's)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if not isinstance(message, dict):
            return None
        if message.get("role") == "assistant":
            return (index + 1, messages[index + 1 :]) if index + 1 < len(messages) else None
    return None


def _kind(value: Any) -> str:
    """The JSON type of a parsed value, as an error message names it."""
    return "null" if value is None else _JSON_KINDS.get(type(value), "a number")


# --- stop reasons ----------------------------------------------------------------------------------

_STOP_FROM_OPENAI: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}
_STOP_TO_OPENAI: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
}
ANTHROPIC_STOP_REASONS = frozenset(_STOP_TO_OPENAI)


def stop_from_openai(finish_reason: str | None) -> StopReason | None:
    if finish_reason is None:
        return None
    return _STOP_FROM_OPENAI.get(finish_reason, "end_turn")


def stop_to_openai(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return _STOP_TO_OPENAI.get(stop_reason, "stop")


def stop_from_anthropic(stop_reason: str | None) -> StopReason | None:
    if stop_reason is None:
        return None
    return stop_reason if stop_reason in ANTHROPIC_STOP_REASONS else "end_turn"  # type: ignore[return-value]


def merged_usage(start: Usage, end: Usage) -> Usage:
    """A stream's usage: what its closing event reported, else what its first one did (field by field)."""
    return Usage(
        input_tokens=end.input_tokens or start.input_tokens,
        output_tokens=end.output_tokens or start.output_tokens,
        cache_read_tokens=end.cache_read_tokens or start.cache_read_tokens,
        cache_write_tokens=end.cache_write_tokens or start.cache_write_tokens,
        reasoning_tokens=end.reasoning_tokens or start.reasoning_tokens,
    )


# --- reasoning effort <-> thinking budget ----------------------------------------------------------

_EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 32768}


def effort_from_budget(budget_tokens: int | None) -> str:
    if budget_tokens is None:
        return "medium"
    if budget_tokens < 4096:
        return "low"
    if budget_tokens < 16384:
        return "medium"
    return "high"


def budget_from_effort(effort: str) -> int | None:
    """Thinking budget for an OpenAI reasoning_effort; None for "none"/unknown (thinking off)."""
    return _EFFORT_BUDGETS.get(effort)


# --- identifiers -----------------------------------------------------------------------------------

_TOOL_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_OPENAI_USER = 64


def anthropic_tool_id(tool_id: str) -> str:
    """Anthropic accepts only ``^[a-zA-Z0-9_-]+$``; other providers' ids (``functions.x:0``) are mapped stably."""
    safe = _TOOL_ID_UNSAFE.sub("_", tool_id)
    return safe or "toolu_empty"


_OPENAI_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def openai_tool_name(name: str) -> str:
    """OpenAI accepts ``^[a-zA-Z0-9_-]{1,64}$``; long MCP tool names are cut and suffixed with a stable hash.
    ``openai.tool_name_map(req)`` gives the way back for responses."""
    if _OPENAI_TOOL_NAME.match(name):
        return name
    return shortened_tool_name(name)


def shortened_tool_name(name: str, key: str | None = None) -> str:
    """``name`` made safe, cut to 55 characters and suffixed with a stable hash of ``key`` (default: ``name``)."""
    digest = hashlib.sha256((name if key is None else key).encode()).hexdigest()[:8]
    return _TOOL_ID_UNSAFE.sub("_", name)[:55] + "_" + digest


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def openai_error_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    return "invalid_request_error" if 400 <= status < 500 else "server_error"


def new_tool_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def openai_user(user: str) -> str:
    """OpenAI limits ``user``; Claude Code's metadata.user_id is a long JSON string, so long ids are hashed."""
    if len(user) <= _MAX_OPENAI_USER:
        return user
    return "sha256_" + hashlib.sha256(user.encode()).hexdigest()[:40]
