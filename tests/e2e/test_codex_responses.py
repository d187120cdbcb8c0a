"""The real Codex CLI on a Responses-only model, through the gateway to the fake Responses API
(tests/conformance/responses_fake.py), which refuses what OpenAI refuses.

Codex sends stateless bodies (`store: false`, the whole conversation, `include: ["reasoning.encrypted_content"]`),
so the gateway relays them unchanged: apply_patch stays a custom (freeform) tool upstream. The tool loop is Write
(apply_patch Add File) -> Edit (apply_patch Update File) -> Bash (exec_command) -> answer; every turn the model
reasons, and Codex must get each encrypted reasoning item back to the upstream, which verifies it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_codex import run_codex

from tests.conformance import responses_fake as fake

pytestmark = pytest.mark.codex_cli
CLIENT_MODEL = "gpt-5.5"  # a model Codex knows: it offers apply_patch (as a custom tool)
MODEL = "gpt-5-codex"  # what the route sends upstream: Responses-only
FINAL_TEXT = "notes.txt says beta: BIFROSTC-CODEX-RESPONSES-DONE"
ADD = "*** Begin Patch\n*** Add File: notes.txt\n+alpha\n*** End Patch\n"
UPDATE = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-alpha\n+beta\n*** End Patch\n"


def script(body: dict[str, Any]) -> list[dict[str, Any]]:
    done = len(fake.outputs(body))
    thought = fake.reasoning(f"rs_{done}", f"Step {done + 1}.", f"codex-turn-{done}")
    if done == 0:
        return [thought, fake.custom_call("call_add", "apply_patch", ADD)]
    if done == 1:
        return [thought, fake.custom_call("call_update", "apply_patch", UPDATE)]
    if done == 2:
        command = json.dumps({"cmd": "cat notes.txt | tee done.txt"})
        return [thought, fake.function_call("call_exec", "exec_command", command)]
    return [thought, fake.message("msg_final", FINAL_TEXT)]


async def test_codex_runs_write_edit_bash_on_a_responses_upstream(live_server, tmp_path):
    upstream = fake.FakeResponses(script)

    def fake_upstream(seen: list[dict[str, Any]], model: str) -> Any:
        upstream.seen = seen
        return upstream.app()

    run = await run_codex(
        live_server, tmp_path, "", CLIENT_MODEL, upstream=("openai", fake_upstream, "/v1"), upstream_model=MODEL
    )
    assert not upstream.refused, upstream.refused
    assert (run.work / "notes.txt").read_text() == "beta\n"
    assert (run.work / "done.txt").read_text() == "beta\n"
    assert run.last_message == FINAL_TEXT
    assert len(run.seen) == 4
    first, last = run.seen[0], run.seen[-1]
    assert {t.get("name"): t["type"] for t in first["tools"]}["apply_patch"] == "custom"  # relayed as Codex sent it
    assert run.sent[-1]["input"] == last["input"] and last["model"] == MODEL
    reasoning = [item.get("encrypted_content") for item in last["input"] if item["type"] == "reasoning"]
    assert reasoning == [fake.encrypted(f"codex-turn-{n}") for n in range(3)]
