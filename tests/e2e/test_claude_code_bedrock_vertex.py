"""Real Claude Code in its Bedrock and Vertex modes, pointed at the gateway as Claude Code's LLM-gateway guide
says (`CLAUDE_CODE_USE_BEDROCK=1`, `ANTHROPIC_BEDROCK_BASE_URL`, `CLAUDE_CODE_SKIP_BEDROCK_AUTH=1`; likewise
for Vertex): the same tool loop as test_claude_code.py runs through /bedrock and /vertex to an OpenAI-shaped
upstream, and every request is logged in the Bedrock / Vertex dialect."""

from __future__ import annotations

from typing import Any

import pytest
from test_claude_code import FINAL_TEXT, claude_session, fake_openai_upstream

from bifrostc.runtime.context import Hooks, LogRecord
from tests.runtime.rt_fakes import provider

pytestmark = pytest.mark.claude_cli


class Logged(Hooks):
    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def on_log(self, record: LogRecord) -> None:
        self.records.append(record)


MODES = {
    "bedrock": {
        "env_CLAUDE_CODE_USE_BEDROCK": "1",
        "env_CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
        "env_AWS_REGION": "us-east-1",
    },
    "vertex": {
        "env_CLAUDE_CODE_USE_VERTEX": "1",
        "env_CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
        "env_CLOUD_ML_REGION": "us-east5",
        "env_ANTHROPIC_VERTEX_PROJECT_ID": "bifrostc-test",
    },
}
BASE_URL_VAR = {"bedrock": "ANTHROPIC_BEDROCK_BASE_URL", "vertex": "ANTHROPIC_VERTEX_BASE_URL"}
DIALECT = {"bedrock": "bedrock-invoke", "vertex": "vertex-anthropic"}


@pytest.mark.parametrize("mode", ["bedrock", "vertex"])
async def test_claude_code_on_bedrock_or_vertex_runs_its_tool_loop_through_the_gateway(
    live_server: Any, tmp_path: Any, mode: str
) -> None:
    seen: list[dict[str, Any]] = []
    hooks = Logged()
    async with live_server(fake_openai_upstream(seen)) as upstream_url:
        run = await claude_session(
            live_server,
            tmp_path,
            [provider("fake", "openai", base_url=f"{upstream_url}/v1", key_env="FAKE_UPSTREAM_KEY")],
            {"fake-model": [("fake", "gpt-fake")]},
            environ={"FAKE_UPSTREAM_KEY": "sk-fake"},
            hooks=hooks,
            **{f"env_{BASE_URL_VAR[mode]}": "{gateway}/" + mode},
            **MODES[mode],
        )
    result = run.check_ok()
    assert (run.work / "marker.txt").read_text().strip() == "hi"
    assert FINAL_TEXT in result["result"]
    dialects = {r.context.dialect for r in hooks.records}
    assert dialects == {DIALECT[mode]}, dialects
    assert any(any(m.get("role") == "tool" for m in body.get("messages", [])) for body in seen)
