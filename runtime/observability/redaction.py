"""The one redactor: what leaves the gateway (error bodies, log rows, log lines, traces) loses its secrets.

Two kinds of secret are removed. Values of configured secrets are known exactly (provider keys, the admin
key, the metrics token, virtual keys held in env vars or seen on an authenticated request) and are replaced
wherever they appear, whatever they look like: an Azure key is 32 hex digits, which no pattern can tell from a
hash. Credential-shaped text (``sk-...``, ``AKIA...``, ``Bearer ...``) is replaced too, for secrets the gateway
was never told about (a user's own key pasted into a prompt). Credential-named fields (``authorization``,
``api_key``...) lose their value whatever it is.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from bifrostc.runtime.observability.text_keys import text_key

REDACTED = "[REDACTED]"
# Shorter values are not treated as secrets: replacing every "test" or "1234" in a log would ruin it.
MIN_SECRET_LENGTH = 8

# Header / field names whose value is a credential, compared lower-cased with "_" folded to "-".
_SECRET_KEYS = frozenset(
    {
        "api-key",
        "apikey",
        "x-api-key",
        "x-goog-api-key",
        "x-admin-key",
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
    # "Bearer token" in an upstream's own words (Anthropic's 401 "Invalid bearer token") names no secret.
    (
        re.compile(r"\bBearer\s+(?!(?:token|tokens|auth|authentication)(?![\w~+/=-]|\.\w))[A-Za-z0-9._~+/=-]+", re.I),
        "Bearer " + REDACTED,
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"), "sk-" + REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
)


# Cheap substring tests tell whether any pattern above could match; most text has none of these markers.
# (A regex prefilter costs ~11 µs per KB of text; these cost ~3.)
def _maybe_secret(text: str) -> bool:
    return "sk-" in text or "AKIA" in text or "ASIA" in text or "AIza" in text or "bearer" in text.lower()


class KnownSecrets:
    """The exact secret values of this process. Values are only ever added (a rotated key may still sit in
    a stream that started before the reload); the set is bounded by the configuration, since virtual keys are
    added only once they authenticated."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()  # longest first, so a value containing another is replaced whole
        self._encoded: tuple[bytes, ...] = ()
        self._shortest = 0

    def add(self, values: Iterable[str | None]) -> None:
        fresh = {v for v in (value.strip() for value in values if value) if len(v) >= MIN_SECRET_LENGTH}
        if fresh <= set(self._values):
            return
        with self._lock:
            merged = sorted(fresh | set(self._values), key=lambda v: (-len(v), v))
            self._values = tuple(merged)
            self._encoded = tuple(v.encode() for v in merged)
            self._shortest = len(merged[-1])

    @property
    def values(self) -> tuple[str, ...]:
        """The values now (a new tuple whenever one is added: `is` tells whether they changed)."""
        return self._values

    def __contains__(self, value: str) -> bool:
        return value in self._values

    def sub(self, text: str) -> str:
        if len(text) < self._shortest or not self._values:
            return text
        for value in self._values:  # `in` then `replace`: C-speed scans, no regex per string
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def sub_bytes(self, data: bytes) -> bytes:
        """The same on relayed bytes (a passthrough stream): values in UTF-8, as they would appear there."""
        if len(data) < self._shortest or not self._encoded:
            return data
        for value in self._encoded:
            if data.find(value) >= 0:  # not `in`, which on 3.11 tries `value` as an int first (translate/sse.py)
                data = data.replace(value, _REDACTED_BYTES)
        return data


_REDACTED_BYTES = REDACTED.encode()
SECRETS = KnownSecrets()


def register_secrets(values: Iterable[str | None]) -> None:
    """Make these values redacted everywhere from now on."""
    SECRETS.add(values)


def redact_text(text: str) -> str:
    if len(text) < _LONG_TEXT:
        return _redact_text(text)
    key = text_key(text)
    known = _LONG_SEEN.get(key)
    if known is not None and known[0] is SECRETS.values and known[1] == text:
        return known[2]
    clean = _redact_text(text)
    global _long_seen_chars
    if len(_LONG_SEEN) >= _LONG_SEEN_MAX or _long_seen_chars > _LONG_SEEN_CHARS:
        _LONG_SEEN.clear()
        _long_seen_chars = 0
    _LONG_SEEN[key] = (SECRETS.values, text, clean)
    _long_seen_chars += len(text)
    return clean


# Long texts come back: a Claude Code system prompt (~28 KB) opens every session and every subagent's first turn,
# and the walk over it costs ~0.2 ms per string (the substring tests, `lower()` on non-ASCII text). Their
# redactions are kept, for the secrets known when they were made (a new secret makes them stale), bounded in
# entries and characters; a hit costs one comparison (keyed by `text_key`, not by hashing the whole text).
_LONG_TEXT = 2048
_LONG_SEEN: dict[tuple[int, str, str], tuple[tuple[str, ...], str, str]] = {}
_LONG_SEEN_MAX = 64
_LONG_SEEN_CHARS = 4_000_000
_long_seen_chars = 0


def _redact_text(text: str) -> str:
    text = SECRETS.sub(text)
    if not _maybe_secret(text):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# Verdicts for dict keys seen so far (field names, header names): bounded, since tool inputs bring any key.
_KEY_VERDICTS: dict[str, bool] = {}
_KEY_VERDICTS_MAX = 4096


def _is_secret_key(name: str) -> bool:
    verdict = _KEY_VERDICTS.get(name)
    if verdict is None:
        verdict = name.lower().replace("_", "-") in _SECRET_KEYS
        if len(_KEY_VERDICTS) < _KEY_VERDICTS_MAX:
            _KEY_VERDICTS[name] = verdict
    return verdict


_SCALARS = frozenset({int, float, bool, type(None)})


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with credentials removed (keys by name, values by value and shape)."""
    cls = type(value)  # exact types first: this walks every request body, and isinstance chains add up
    if cls is str:
        return redact_text(value)
    if cls is dict:
        return {k: (REDACTED if type(k) is str and _is_secret_key(k) else redact(v)) for k, v in value.items()}
    if cls is list or cls is tuple:
        return [redact(item) for item in value]
    if cls in _SCALARS:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Redacts a log record's final message (and its traceback) before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


# The handlers that write bifrostc's own lines and uvicorn's (its error log carries the app's tracebacks).
_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "bifrostc")


def install_log_redaction() -> None:
    """Put the redacting filter on every handler of the gateway's loggers (a handler filter, unlike a logger
    filter, also sees what child loggers such as ``bifrostc.chat`` propagate to it)."""
    for name in _LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
