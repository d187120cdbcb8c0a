"""How `bifrostc serve` logs: text or JSON lines on stderr, the start-up banner, and one access line per request.

``configure_logging(fmt, access=...)`` installs one stderr handler on the root logger (every ``bifrostc.*``
logger and, in JSON mode, uvicorn's propagate to it; the MCP SDK's per-session chatter is quieted where the
MCP gateway is, ``runtime/mcp/gateway.py``). The access line comes from ``Telemetry.record`` through
``log_access``: it is written only while ``bifrostc.access`` is enabled for INFO, so with the access log off
the hot path pays one cached level check.

Structured fields ride on a record as ``extra={"fields": {...}}``: the JSON formatter puts them at the top level
of the line, the text formatter ignores them (the message already says it all). Every line goes through the
one redactor, fields included.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, Literal

from bifrostc.runtime.observability.records import RequestRecord
from bifrostc.runtime.observability.redaction import redact_text

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(levelname)s:     %(name)s: %(message)s"
ACCESS = logging.getLogger("bifrostc.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (RFC 3339, UTC), level, logger, msg, then the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__.get("fields")
        if isinstance(fields, Mapping):
            line.update(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return redact_text(json.dumps(line, default=str, separators=(",", ":")))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (a type of its own, so a second call replaces it)."""


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(fmt: LogFormat = "text", *, access: bool = False) -> None:
    """Root handler on stderr in `fmt`; the access log on or off."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):  # ours from an earlier call; others (pytest's) stay
            root.removeHandler(handler)
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    ACCESS.setLevel(logging.INFO if access else logging.WARNING)


def uvicorn_log_config(fmt: LogFormat) -> dict[str, Any] | None:
    """uvicorn's own logging setup: its default for text; none in JSON mode, so its loggers propagate to ours."""
    if fmt == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG


def access_fields(record: RequestRecord) -> dict[str, Any]:
    return {
        "request_id": record.id,
        "key": record.virtual_key,
        "team": record.team,
        "model": record.requested_model,
        "route": record.route,
        "provider": record.provider,
        "upstream_model": record.upstream_model,
        "endpoint": record.endpoint,
        "stream": record.stream,
        "status": record.status,
        "latency_ms": None if record.latency_ms is None else round(record.latency_ms, 1),
        "ttft_ms": None if record.time_to_first_token_ms is None else round(record.time_to_first_token_ms, 1),
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cache_read_tokens": record.cache_read_tokens,
        "cost_usd": round(record.cost_usd, 8),
        "attempts": record.attempts,
        "cache": "hit" if record.cache_hit else "miss",
    }


def log_access(record: RequestRecord) -> None:
    """The access line for one finished request (no-op while the access log is off)."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    latency = "-" if record.latency_ms is None else f"{record.latency_ms:.0f}ms"
    ACCESS.info(
        "%s %s key=%s model=%s provider=%s status=%d %s tokens=%d/%d cost=$%.6f%s",
        record.id,
        record.endpoint,
        record.virtual_key or "-",
        record.requested_model or "-",
        record.provider or "-",
        record.status,
        latency,
        record.input_tokens,
        record.output_tokens,
        record.cost_usd,
        " cache=hit" if record.cache_hit else "",
        extra={"fields": access_fields(record)},
    )
