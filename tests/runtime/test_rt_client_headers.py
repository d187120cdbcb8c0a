"""`ClientHeaders` (the chat endpoints' indexed headers) answers every lookup as Starlette's Headers does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from bifrostc.runtime.handlers.request import ClientHeaders

NAMES = st.sampled_from(["x-api-key", "authorization", "anthropic-beta", "content-length", "x-claude-code-session-id"])
VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=12)
RAW = st.lists(st.tuples(NAMES, VALUES), max_size=8).map(
    lambda pairs: [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]
)


@given(RAW, NAMES, st.booleans())
def test_lookups_match_starlette(raw: list[tuple[bytes, bytes]], name: str, upper: bool) -> None:
    scope = {"type": "http", "headers": raw}
    ours, theirs = ClientHeaders(scope), Headers(scope=scope)
    asked = name.upper() if upper else name
    assert isinstance(ours, Headers)
    assert (asked in ours) == (asked in theirs)
    assert ours.get(asked) == theirs.get(asked)
    assert ours.get(asked, "default") == theirs.get(asked, "default")
    assert ours.getlist(asked) == theirs.getlist(asked)
    assert list(ours.items()) == list(theirs.items())
    assert ours.raw == theirs.raw
    if asked in theirs:
        assert ours[asked] == theirs[asked]
    assert 3 not in ours  # not a name at all
