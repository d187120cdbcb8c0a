"""Gateway names (tools, prompts, resources), gateway resource URIs and per-server tool filters.

Upstream tools are exposed as ``<server>__<tool>``. Model APIs cap tool names at 64 characters drawn from
``[A-Za-z0-9_-]`` (Anthropic and OpenAI both), so names are sanitised and, when too long or already taken,
shortened with a stable hash suffix: the same upstream tool always gets the same gateway name. Prompts, resources
and resource templates get names by the same scheme (each kind its own namespace); resource URIs are rewritten
to ``bifrostc://<server>/<original uri>`` (:func:`gateway_uri`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from fnmatch import fnmatchcase

MAX_TOOL_NAME = 64
SEPARATOR = "__"
URI_SCHEME = "bifrostc://"
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


def gateway_uri(server: str, uri: str) -> str:
    """The gateway URI of upstream ``server``'s resource ``uri``: ``bifrostc://<server>/<uri, verbatim>``.

    Always rewritten (not only on collision), so a URI a client saved stays valid when another upstream with the
    same URI connects later. The original is appended verbatim, not percent-encoded: a resource template rewritten
    the same way still expands to exactly ``bifrostc://<server>/`` + what the upstream's own template would give.
    """
    return f"{URI_SCHEME}{server}/{uri}"


def split_gateway_uri(uri: str) -> tuple[str, str] | None:
    """``(server, upstream uri)`` for a gateway URI, or None when ``uri`` is not one."""
    if not uri.startswith(URI_SCHEME):
        return None
    server, slash, original = uri.removeprefix(URI_SCHEME).partition("/")
    return (server, original) if slash and server else None


def _glob_tokens(pattern: str) -> list[str]:
    """``pattern`` split into fnmatch tokens: ``*``, ``?``, a ``[...]`` set, or one literal character."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        end = i + 1
        if pattern[i] == "[":
            # As fnmatch parses sets: a leading "!" and then a leading "]" are part of the set.
            close = i + 1 + (pattern[i + 1 : i + 2] == "!")
            close += pattern[close : close + 1] == "]"
            found = pattern.find("]", close)
            end = found + 1 if found != -1 else end  # an unclosed "[" is a literal
        tokens.append(pattern[i:end])
        i = end
    return tokens


def _step(tokens: list[str], states: set[int], char: str) -> set[int]:
    nxt: set[int] = set()
    for state in states:
        if state == len(tokens):
            continue
        token = tokens[state]
        if token == "*":
            nxt.add(state)
        elif token == "?" or (len(token) > 1 and fnmatchcase(char, token)) or token == char:
            nxt.add(state + 1)
    return _skip_stars(tokens, nxt)


def _skip_stars(tokens: list[str], states: set[int]) -> set[int]:
    closed = set(states)
    for state in sorted(states):
        while state < len(tokens) and tokens[state] == "*":
            state += 1
            closed.add(state)
    return closed


def pattern_covers_server(pattern: str, server: str) -> bool:
    """Whether glob ``pattern`` over gateway names can match some ``<server>__<name>`` (the grant reaches it).

    ``fs__read_*``, ``fs__*``, ``f*`` and ``*`` cover server ``fs``; ``git__*`` and ``fs`` do not.
    """
    tokens = _glob_tokens(pattern)
    states = _skip_stars(tokens, {0})
    for char in f"{server}{SEPARATOR}":
        states = _step(tokens, states, char)
        if not states:
            return False
    return any(state < len(tokens) for state in states)  # something left to match a non-empty name
