"""The memo behind a named system prompt: its time bound and its size bound (the HTTP surface:
tests/integration/test_wired_logged_prompts.py)."""

from __future__ import annotations

from bifrostc.runtime.observability import logged_prompts
from bifrostc.runtime.observability.logged_prompts import LoggedPrompts
from bifrostc.runtime.types import TextPart

PROMPT = [TextPart("x" * 3000, {"type": "ephemeral"})]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_row_is_named_within_the_ttl_and_a_later_one_takes_over_after_it() -> None:
    clock = Clock()
    memo = LoggedPrompts(ttl=60.0, clock=clock)
    assert memo.logged_in("alice", PROMPT, "req_1") is None
    clock.now = 59.0
    assert memo.logged_in("alice", PROMPT, "req_2") == "req_1"
    clock.now = 61.0
    assert memo.logged_in("alice", PROMPT, "req_3") is None  # req_1 may be pruned by now: log it again
    assert memo.logged_in("alice", PROMPT, "req_4") == "req_3"


def test_the_prompt_is_compared_whole_with_its_cache_marks_and_per_caller() -> None:
    memo = LoggedPrompts()
    assert memo.logged_in("alice", PROMPT, "req_1") is None
    assert memo.logged_in("bob", PROMPT, "req_2") is None
    assert memo.logged_in("alice", [TextPart(PROMPT[0].text)], "req_3") is None
    assert memo.logged_in("alice", [TextPart("y"), *PROMPT], "req_4") is None
    assert memo.logged_in("alice", [TextPart("short")], "req_5") is None
    assert memo.logged_in("alice", [TextPart("short")], "req_6") is None


def test_many_distinct_prompts_never_grow_the_memo_past_its_bound() -> None:
    memo = LoggedPrompts()
    for i in range(logged_prompts.MAX_ENTRIES * 3):
        memo.logged_in("alice", [TextPart(f"{i:06d}" + "z" * 3000)], f"req_{i}")
        assert len(memo._rows) <= logged_prompts.MAX_ENTRIES
        assert memo._chars <= logged_prompts.MAX_CHARS


def test_prompts_that_differ_only_inside_are_told_apart() -> None:
    # The memo is keyed by each text's length and ends (observability/text_keys.py); a hit compares the whole.
    memo = LoggedPrompts()
    one, other = "a" * 1500 + "1" + "a" * 1500, "a" * 1500 + "2" + "a" * 1500
    assert memo.logged_in("alice", [TextPart(one)], "req_1") is None
    assert memo.logged_in("alice", [TextPart(other)], "req_2") is None
    assert memo.logged_in("alice", [TextPart(other)], "req_3") == "req_2"
