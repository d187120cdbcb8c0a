"""Claude Code's OTLP/HTTP telemetry: find the session id in a payload, JSON or protobuf, without decoding it all.

OTLP puts ``session.id`` in an attribute (a KeyValue) of the resource or of a record. In JSON that is
``{"key": "session.id", "value": {"stringValue": ...}}``; in protobuf a KeyValue is field 1 (the key) then field 2
(an AnyValue whose field 1 is the string), which the byte pattern below matches (values up to 127 bytes).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

SESSION_KEY = "session.id"
_PROTO_SESSION = re.compile(rb"\x0a\x0asession\.id\x12[\x00-\x7f]\x0a([\x00-\x7f])", re.DOTALL)


def session_id(payload: bytes, content_type: str | None) -> str | None:
    if content_type and "json" in content_type:
        try:
            return _json_session(orjson.loads(payload))
        except orjson.JSONDecodeError:
            return None
    match = _PROTO_SESSION.search(payload)
    if match is None:
        return None
    start = match.end()
    value = payload[start : start + match.group(1)[0]]
    return value.decode("utf-8", "replace") or None


def _json_session(node: Any) -> str | None:
    if isinstance(node, dict):
        if node.get("key") == SESSION_KEY and isinstance(node.get("value"), dict):
            value = node["value"].get("stringValue")
            if isinstance(value, str) and value:
                return value
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _json_session(child)
        if found:
            return found
    return None
