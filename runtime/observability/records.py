"""One row of the request log, and the redaction applied before any body is stored.

The app fills a :class:`RequestRecord` as a request moves through the gateway and hands it to
``Telemetry.record``. Bodies are optional (``Observability.log_bodies``) and are always passed through
:func:`redact` before they reach a store, so an API key pasted into a prompt never lands on disk.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bifrostc.runtime.types import ChatRequest, ChatResponse

REDACTED = "[REDACTED]"

# Header / field names whose value is a credential, compared lower-cased with "_" folded to "-".
_SECRET_KEYS = frozenset(
    {
        "api-key",
        "apikey",
        "x-api-key",
        "x-goog-api-key",
        "authorization",
        "proxy-authorization",
        "secret",
        "client-secret",
        "password",
        "access-token",
        "refresh-token",
        "aws-secret-access-key",
        "secret-access-key",
        "aws-session-token",
        "x-amz-security-token",
    }
)

# Values that look like credentials wherever they appear in free text.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), "Bearer " + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), "sk-" + REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _is_secret_key(name: str) -> bool:
    return name.lower().replace("_", "-") in _SECRET_KEYS


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with credentials removed (keys by name, values by shape)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


@dataclass(slots=True)
class RequestRecord:
    """Everything the log, metrics and traces need to know about one gateway request."""

    id: str = field(default_factory=lambda: "req_" + uuid.uuid4().hex)
    ts: float = field(default_factory=time.time)  # unix seconds when the request arrived
    dialect: str = "anthropic"  # anthropic | openai
    endpoint: str = ""  # e.g. /anthropic/v1/messages
    virtual_key: str | None = None  # virtual key *name*, never its value
    team: str | None = None
    customer: str | None = None
    requested_model: str | None = None
    route: str | None = None
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
    latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
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
        return dataclasses.replace(
            self,
            error_message=redact_text(self.error_message) if self.error_message else self.error_message,
            request_messages=redact(self.request_messages),
            response_content=redact(self.response_content),
        )


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RequestRecord))


def apply_request(record: RequestRecord, request: ChatRequest) -> None:
    """Copy what the log wants from a canonical request (bodies as plain JSON)."""
    record.requested_model = request.model
    record.stream = request.stream
    record.temperature = request.temperature
    record.max_tokens = request.max_tokens
    record.tools_count = len(request.tools)
    system = [{"role": "system", "content": [dataclasses.asdict(p) for p in request.system]}] if request.system else []
    record.request_messages = system + [dataclasses.asdict(m) for m in request.messages]


def apply_response(record: RequestRecord, response: ChatResponse) -> None:
    """Copy usage, finish reason and content (and the model, if routing did not say) from a canonical response."""
    # The app relabels response.model with the name the client asked for; the routed upstream model wins.
    record.upstream_model = record.upstream_model or response.model
    record.finish_reason = response.stop_reason
    record.input_tokens = response.usage.input_tokens
    record.output_tokens = response.usage.output_tokens
    record.cache_read_tokens = response.usage.cache_read_tokens
    record.cache_write_tokens = response.usage.cache_write_tokens
    record.response_content = [dataclasses.asdict(p) for p in response.content]
