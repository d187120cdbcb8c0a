"""Every request shape the real Claude Code sends (captured: tests/fixtures/claude_code) reaches every provider
family in a form its fake accepts: the fakes refuse what each provider documents it refuses (issue 21)."""

from __future__ import annotations

import pathlib
import re

import pytest

from .rig import FIXTURES, TARGETS, claude_code_requests, claude_headers, rig

CAPTURED = claude_code_requests()


def test_the_fixtures_were_captured_from_the_pinned_claude_code() -> None:
    """Re-run tests/fixtures/claude_code/capture.py when .ci/run pins another Claude Code version."""
    ci = (pathlib.Path(__file__).parents[2] / ".ci" / "run").read_text()
    pinned = re.search(r"@anthropic-ai/claude-code@([\w.-]+)", ci)
    assert pinned is not None
    assert (FIXTURES / "VERSION").read_text().strip() == pinned.group(1)


def test_the_fixtures_hold_the_shapes_that_matter() -> None:
    """First turn, tool turn, thinking on, with and without betas, after /compact."""
    assert {"first-turn-1", "tool-turn-2", "thinking-2", "no-betas-2", "compact-3"} <= CAPTURED.keys()
    thinking = CAPTURED["thinking-2"]["body"]["messages"][1]["content"]
    assert [block["type"] for block in thinking] == ["thinking", "tool_use"]
    assert "context-management-2025-06-27" in CAPTURED["tool-turn-1"]["headers"]["anthropic-beta"]
    assert "context_management" not in CAPTURED["no-betas-1"]["body"]


@pytest.mark.parametrize("target", list(TARGETS))
async def test_every_captured_claude_code_request_is_accepted_by_every_family(target: str) -> None:
    async with rig(TARGETS[target]) as gateway:
        for name, captured in CAPTURED.items():
            response = await gateway.anthropic(captured["body"], claude_headers(captured))
            assert response.status_code == 200, (name, response.text[:500], gateway.script.refused)
            assert "event: error" not in response.text, (name, response.text[-500:])
    assert gateway.script.refused == []
    assert len(gateway.script.bodies) == len(CAPTURED)
