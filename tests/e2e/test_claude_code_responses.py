"""Real Claude Code on a Responses-only model: a Write -> Edit -> Bash tool loop through the gateway to the fake
Responses API (tests/conformance/responses_fake.py), which refuses what OpenAI refuses (an output without its
call, a call without its output, a reasoning item without the encrypted content it issued, an unknown item).

Each turn the model reasons (an encrypted reasoning item) and calls one tool; Claude Code keeps the reasoning as a
thinking block signed `bfc:openai:...` and sends it back, and the gateway must hand it upstream again as the
reasoning item with its encrypted content.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from test_claude_code import MARKER_PROMPT, claude_session

from tests.conformance import responses_fake as fake
from tests.runtime.rt_fakes import provider

pytestmark = pytest.mark.claude_cli
FINAL_TEXT = "notes.txt says beta: BIFROSTC-RESPONSES-DONE"


def tool_loop(work: pathlib.Path) -> fake.Script:
    notes = str(work / "notes.txt")
    steps = [
        ("Write", {"file_path": notes, "content": "alpha\n"}),
        ("Edit", {"file_path": notes, "old_string": "alpha", "new_string": "beta"}),
        ("Bash", {"command": "cat notes.txt > done.txt", "description": "Copy the notes"}),
    ]

    def script(body: dict[str, Any]) -> list[dict[str, Any]]:
        if MARKER_PROMPT not in json.dumps(body.get("input")) or not body.get("tools"):
            return [fake.message("msg_side", "OK")]  # side requests: titles, topics
        done = len(fake.outputs(body))
        thought = fake.reasoning(f"rs_{done}", f"Step {done + 1}.", f"turn-{done}")
        if done >= len(steps):
            return [thought, fake.message(f"msg_{done}", FINAL_TEXT)]
        name, arguments = steps[done]
        return [thought, fake.function_call(f"call_{done}", name, json.dumps(arguments))]

    return script


async def test_claude_code_runs_write_edit_bash_on_a_responses_upstream(live_server, tmp_path):
    upstream = fake.FakeResponses(tool_loop(tmp_path / "work"))
    async with live_server(upstream.app()) as upstream_url:
        run = await claude_session(
            live_server,
            tmp_path,
            [provider("oai", "openai", base_url=f"{upstream_url}/v1", key_env="UP_KEY", max_retries=0)],
            {"fake-model": [("oai", "gpt-5-codex")]},
            environ={"UP_KEY": "sk-up"},
        )
        result = run.check_ok()
    assert FINAL_TEXT in result["result"]
    assert (run.work / "notes.txt").read_text() == "beta\n"
    assert (run.work / "done.txt").read_text() == "beta\n"
    assert not upstream.refused, upstream.refused
    loop = [body for body in upstream.seen if MARKER_PROMPT in json.dumps(body.get("input")) and body.get("tools")]
    assert len(loop) == 4
    last = loop[-1]["input"]
    reasoning = [item["encrypted_content"] for item in last if item["type"] == "reasoning"]
    assert reasoning == [fake.encrypted(f"turn-{n}") for n in range(3)]  # every turn's reasoning came back
    assert [i["call_id"] for i in last if i["type"] == "function_call_output"] == ["call_0", "call_1", "call_2"]
