"""One row of the request log.

The app fills a :class:`RequestRecord` as a request moves through the gateway and hands it to
``Telemetry.record``. Bodies are optional (``Observability.log_bodies``); bodies and free-text fields are always
passed through the one redactor (``redaction.py``) before they reach a store, so an API key pasted into a
prompt never lands on disk.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from bifrostc.runtime.context import new_request_id
from bifrostc.runtime.observability.logged_prompts import LoggedPrompts
from bifrostc.runtime.observability.redaction import REDACTED, redact, redact_text
from bifrostc.runtime.types import ChatRequest, ChatResponse, Message

__all__ = ["RECORD_FIELDS", "REDACTED", "RequestRecord", "apply_request", "apply_response", "plain", "redact"]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    """A dataclass tree as plain JSON-able dicts and lists: ``dataclasses.asdict`` without its deep copies of
    every leaf (about 3x faster on canonical messages, which are built fresh per request and never mutated)."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is list or cls is tuple:
        return [plain(item) for item in value]
    if cls is dict:
        return {k: plain(v) for k, v in value.items()}
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(value):
            return value
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(value))
    return {name: plain(getattr(value, name)) for name in names}


@dataclass(slots=True)
class RequestRecord:
    """Everything the log, metrics and traces need to know about one gateway request."""

    id: str = field(default_factory=lambda: "req_" + new_request_id())
    ts: float = field(default_factory=time.time)  # unix seconds when the request arrived
    dialect: str = "anthropic"  # anthropic | openai | responses
    endpoint: str = ""  # e.g. /anthropic/v1/messages
    # Virtual key *name*, never its value; without one, a client's own credential as its salted-hash label
    # ("client:<12 hex>", transport.credentials), so usage is per person without issuing keys.
    virtual_key: str | None = None
    team: str | None = None
    customer: str | None = None
    # Who sent it (Claude Code's headers; the session also from the body, as affinity reads it): a session's rows,
    # its subagents' (agent_id, under parent_agent_id or the main thread) and its compactions (request_class).
    session_id: str | None = None
    agent_id: str | None = None
    parent_agent_id: str | None = None
    request_class: str | None = None  # main | subagent | compaction | auxiliary (CLAUDE_CODE_GATEWAY_HINT_HEADERS=1)
    requested_model: str | None = None
    route: str | None = None
    rule: str | None = None  # the routing rule that picked the route (x-bifrostc-rule), None when none matched
    provider: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    billed_to: str | None = None  # "client": served on the client's own credential, billed to its own account
    usage_estimated: bool = False  # tokens counted from what a stream relayed: its closing usage never came
    latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
    inter_token_latency_ms: float | None = None  # streams: mean gap between output chunks after the first
    attempts: int = 1
    upstream_errors: int = 0  # failed upstream attempts, retried or not
    fallback_used: bool = False
    cache_hit: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    tools_count: int = 0
    request_messages: Any = None  # JSON-able; only when log_bodies
    response_content: Any = None  # JSON-able; only when log_bodies

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def without_bodies(self) -> RequestRecord:
        return dataclasses.replace(self, request_messages=None, response_content=None)

    def redacted(self) -> RequestRecord:
        return dataclasses.replace(self).scrub()

    def scrub(self, *, keep_bodies: bool = True) -> RequestRecord:
        """Redact (or drop) the bodies in place and return self: what the log sink does to records it owns
        (a submitted record is no longer used by anyone else), saving ``redacted()``'s copy of every field."""
        if self.error_message:
            self.error_message = redact_text(self.error_message)
        if self.requested_model:  # client-chosen text too: a key pasted as the model name
            self.requested_model = redact_text(self.requested_model)
        if self.session_id:  # client-chosen as well (a header, metadata.user_id, user)
            self.session_id = redact_text(self.session_id)
        if self.agent_id:
            self.agent_id = redact_text(self.agent_id)
        if self.parent_agent_id:
            self.parent_agent_id = redact_text(self.parent_agent_id)
        if keep_bodies:
            self.request_messages = redact(self.request_messages)
            self.response_content = redact(self.response_content)
        else:
            self.request_messages = self.response_content = None
        return self


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RequestRecord))


def new_turn_start(messages: list[Message]) -> int:
    """Index of the first message after the last assistant turn: what this request adds to the conversation."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "assistant":
            return index + 1
    return 0


def apply_request(
    record: RequestRecord,
    request: ChatRequest,
    *,
    bodies: bool = True,
    full_history: bool = False,
    prompts: LoggedPrompts | None = None,
) -> None:
    """Copy what the log wants from a canonical request (bodies as plain JSON, unless ``bodies`` is off).

    Agents resend the whole conversation every turn, so by default only what this request adds is logged (the
    messages after the last assistant turn; the system prompt and everything before once, with the first turn):
    each earlier message is already in the log, as an earlier turn's input or response. Logging every history
    in full grows the log with the square of a session's length (``full_history`` does it anyway). A long system
    prompt that a recent row of the same caller holds is logged as that row's id (``prompts``: logged_prompts.py).
    """
    record.requested_model = request.model
    record.stream = request.stream
    record.temperature = request.temperature
    record.max_tokens = request.max_tokens
    record.tools_count = len(request.tools) + request.tools_omitted  # a relayed request left its tools unparsed
    if not bodies:
        return
    start = 0 if full_history else new_turn_start(request.messages)
    omitted = start + request.history_omitted  # a relayed request parsed only the new turn (relay_parse.py)
    if omitted:
        head = [{"omitted": f"{omitted} earlier messages and the system prompt, logged with earlier turns"}]
    elif not request.system:
        head = []
    elif prompts is not None and (row := prompts.logged_in(record.virtual_key, request.system, record.id)):
        head = [{"role": "system", "logged_with": row}]  # the same prompt, in full in that row
    else:
        head = [{"role": "system", "content": plain(request.system)}]
    record.request_messages = head + plain(request.messages[start:])


def apply_response(record: RequestRecord, response: ChatResponse, *, bodies: bool = True) -> None:
    """Copy usage, finish reason and content (and the model, if routing did not say) from a canonical response."""
    # The app relabels response.model with the name the client asked for; the routed upstream model wins.
    record.upstream_model = record.upstream_model or response.model
    record.finish_reason = response.stop_reason or record.finish_reason
    record.input_tokens = response.usage.input_tokens
    record.output_tokens = response.usage.output_tokens
    record.cache_read_tokens = response.usage.cache_read_tokens
    record.cache_write_tokens = response.usage.cache_write_tokens
    if bodies:
        record.response_content = plain(response.content)
