"""A relayed request's upstream body made of the bytes the client sent, with only its model replaced (issue 15).

Serializing the parsed body again cost a Claude Code request more than its parse: orjson writes each non-ASCII
string (the system prompt, tool descriptions, anything with an em dash) through CPython's UTF-8 encoder, ~900k
instructions for an 87 KB first turn, and the client's bytes are that UTF-8 already. `with_model` replaces the
value of the top-level ``"model"`` in them where it can be sure which value that is, and otherwise answers None
(the caller serializes the body). It is sure when:

- ``"model"`` is the object's first key, written plainly (Claude Code and the TypeScript SDK send it first);
- its value is the body's model as orjson writes it (no escapes of its own);
- no later key could be a second top-level ``"model"`` with a string value, which a last-wins parser upstream
  would read instead: every later plain ``"model"`` is followed by something other than ``: "`` (Claude Code's
  Agent tool declares a ``model`` property: an object), and no key is written with an escaped letter of
  ``model`` (``\\u006d``, ``\\u006f``, ``\\u0064``, ``\\u0065``, ``\\u006c`` all begin ``\\u006``).
"""

from __future__ import annotations

import re

import orjson

# Regex searches, not `in` / `find`: on a Claude Code body their literal-prefix scan is ~25% faster (87 KB:
# 30 against 39 µs and 32 against 42 µs for the loop over each "model", bench/RESULTS.md).
_ESCAPED_LETTER = re.compile(rb"\\u006")
_FIRST_KEY = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"model"[ \t\r\n]*:[ \t\r\n]*')
_STRING_VALUED_KEY = re.compile(rb'"model"[ \t\r\n]*:[ \t\r\n]*"')


def with_model(raw: bytes, current: object, model: str) -> bytes | None:
    """``raw`` (a JSON object whose top-level "model" parsed to ``current``) with that value replaced by
    ``model``, every other byte as it came; None when which value that is cannot be told for certain."""
    first = _FIRST_KEY.match(raw)
    if first is None or not isinstance(current, str):
        return None
    start = first.end()
    written = orjson.dumps(current)
    end = start + len(written)
    if raw[start:end] != written or _ESCAPED_LETTER.search(raw):
        return None
    if _STRING_VALUED_KEY.search(raw, end):
        return None  # perhaps a second top-level "model": the parser kept the last one
    return b"".join((raw[:start], orjson.dumps(model), raw[end:]))
