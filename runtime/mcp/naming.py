"""Gateway tool names and per-server tool filters.

Upstream tools are exposed as ``<server>__<tool>``. Model APIs cap tool names at 64 characters drawn from
``[A-Za-z0-9_-]`` (Anthropic and OpenAI both), so names are sanitised and, when too long or already taken,
shortened with a stable hash suffix: the same upstream tool always gets the same gateway name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from fnmatch import fnmatchcase

MAX_TOOL_NAME = 64
SEPARATOR = "__"
_HASH_LEN = 8
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]


def _with_hash(name: str, source: str) -> str:
    """``name`` cut short enough to carry ``_<hash of source>`` within the limit."""
    return f"{name[: MAX_TOOL_NAME - _HASH_LEN - 1]}_{_digest(source)}"


def gateway_tool_name(server: str, tool: str) -> str:
    """The public name of ``tool`` on upstream ``server``, before collision handling."""
    raw = f"{server}{SEPARATOR}{tool}"
    safe = _UNSAFE.sub("_", raw)
    if safe == raw and len(safe) <= MAX_TOOL_NAME:
        return safe
    # Sanitising or truncating loses information, so the hash of the raw name keeps it unique.
    return _with_hash(safe, raw)


def unique_tool_name(server: str, tool: str, taken: set[str]) -> str:
    """A gateway name for ``tool`` not already in ``taken`` (which the caller updates)."""
    name = gateway_tool_name(server, tool)
    if name not in taken:
        return name
    # Only reachable through odd names ("a__b"/"c" against "a"/"b__c"): salt until free.
    salt = 0
    while name in taken:
        salt += 1
        name = _with_hash(gateway_tool_name(server, tool), f"{server}\0{tool}\0{salt}")
    return name


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def tool_allowed(tool: str, allow: tuple[str, ...], deny: tuple[str, ...]) -> bool:
    """Apply a server's glob lists to an upstream tool name: deny wins; an empty allow list allows all."""
    if _matches(tool, deny):
        return False
    return not allow or _matches(tool, allow)
