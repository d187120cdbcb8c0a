"""Cheap dictionary keys for long texts that come back in every request (a Claude Code system prompt, its reminders).

Each request parses fresh str objects, so a dict keyed by the text itself hashes all of it every time: siphash over
every byte, ~85k instructions for a 28 KB prompt (bench/RESULTS.md). Keyed by its length and ends instead, a memo
confirms a hit with ``==`` on the text it kept (a memcmp); two texts that share the key are simply a miss.
"""

from __future__ import annotations

ENDS = 64  # characters kept from each end


def text_key(text: str) -> tuple[int, str, str]:
    return (len(text), text[:ENDS], text[-ENDS:])
