"""`transport.request_bytes.with_model` against hypothesis: it never sends a body that means something other than
the client's body with the routed model, whatever the client's bytes (spacing, escapes, duplicate keys, a nested
"model"), and it does send Claude Code's own bytes (over HTTP: tests/integration/test_wired_relayed_history.py)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bifrostc.runtime.transport.request_bytes import with_model

ROUTED = "claude-routed-1"
_scalar = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)
_value = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["model", "type", "text", "mödel", "x"]), inner, max_size=3)
    ),
    max_leaves=10,
)
_models = st.sampled_from(["sonnet", "claude-opus-4-5", "a/b", 'q"uote', "é"]) | st.text(max_size=6)


def _top(raw: bytes) -> list[Any]:
    """The values of the top-level object's "model" keys, duplicates included (a parser keeps the first or the
    last of them)."""
    tree = json.loads(raw, object_pairs_hook=lambda items: {"__pairs__": items})
    return [value for key, value in tree["__pairs__"] if key == "model"]


@st.composite
def client_bytes(draw: st.DrawFn) -> bytes:
    """A JSON object with "model" first or not, duplicates or not, written compactly or spaced, ASCII-escaped or
    not, with keys sometimes spelled with an escaped letter."""
    model = draw(_models)
    others = draw(st.lists(st.tuples(st.sampled_from(["messages", "tools", "model", "system"]), _value), max_size=4))
    pairs = [("model", model), *others] if draw(st.booleans()) else [*others, ("model", model)]
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
    ascii_only = draw(st.booleans())
    parts = []
    for key, value in pairs:
        key_text = json.dumps(key, ensure_ascii=ascii_only)
        if key == "model" and draw(st.integers(0, 5)) == 0:
            key_text = '"mod\\u0065l"'
        parts.append(key_text + separators[1] + json.dumps(value, ensure_ascii=ascii_only, separators=separators))
    return ("{" + separators[0].join(parts) + "}").encode()


@settings(max_examples=400, deadline=None)
@given(client_bytes())
def test_a_spliced_body_means_the_clients_body_with_the_routed_model_and_nothing_else(raw: bytes) -> None:
    body = orjson.loads(raw)
    out = with_model(raw, body.get("model"), ROUTED)
    if out is None:
        return
    assert orjson.loads(out) == {**body, "model": ROUTED}
    assert _top(out) == [ROUTED]  # no second top-level "model" a first-wins or last-wins parser could read instead


def test_claude_codes_own_bytes_are_spliced_and_a_nested_model_property_does_not_stop_it() -> None:
    body = {
        "model": "sonnet",
        "messages": [{"role": "user", "content": "héllo — “quoted”"}],
        "tools": [{"name": "Agent", "input_schema": {"properties": {"model": {"type": "string"}}}}],
    }
    raw = orjson.dumps(body)
    assert with_model(raw, "sonnet", ROUTED) == raw.replace(b'"sonnet"', orjson.dumps(ROUTED), 1)


def test_what_cannot_be_told_for_certain_is_left_to_the_serializer() -> None:
    assert with_model(b'{"messages":[],"model":"sonnet"}', "sonnet", ROUTED) is None  # not first
    assert with_model(b'{"model":"sonnet","x":{"model":"haiku"}}', "sonnet", ROUTED) is None  # a second string
    assert with_model(b'{"model":"sonnet","model":"sonnet"}', "sonnet", ROUTED) is None  # a duplicate
    assert with_model(b'{"model":"sonnet","mod\\u0065l":"sonnet"}', "sonnet", ROUTED) is None  # an escaped one
    assert with_model(b'{"model":"son\\u006eet"}', "sonnet", ROUTED) is None  # an escaped value
    assert with_model(b'{"model":5}', 5, ROUTED) is None
