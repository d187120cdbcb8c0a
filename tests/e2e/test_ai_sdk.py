"""The Vercel AI SDK's default OpenAI provider (`openai(model)` from `@ai-sdk/openai`, under Node) through the
gateway's Responses endpoint to a fake Anthropic upstream: a tool loop (generateText with a tool and stopWhen),
then two more user turns reusing the messages (streamText, generateText). The SDK stores by default and sends the
earlier assistant output back as `item_reference` items, which the gateway resolves from what it stored.

Needs `ai`, `@ai-sdk/openai` and `zod` installed with `npm install --prefix .ci/node` (see .ci/run) and node on
PATH; skipped otherwise. BIFROSTC_AI_SDK_MODULES names another node_modules directory holding them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.integration.weather_upstream import ENV, WeatherUpstream, spec
from tests.integration.wired import compile_gateway, wired_server

ROOT = Path(__file__).resolve().parents[2]
MODULES = Path(os.environ.get("BIFROSTC_AI_SDK_MODULES") or ROOT / ".ci" / "node" / "node_modules")
SCRIPT = Path(__file__).with_name("ai_sdk_chat.mjs")
TIMEOUT_S = 120  # a hang guard only

pytestmark = [
    pytest.mark.ai_sdk,
    pytest.mark.skipif(shutil.which("node") is None, reason="needs node"),
    pytest.mark.skipif(
        not all((MODULES / name / "package.json").exists() for name in ("ai", "@ai-sdk/openai", "zod")),
        reason=f"needs ai, @ai-sdk/openai and zod in {MODULES} (npm install --prefix .ci/node ...)",
    ),
]


async def test_a_multi_turn_tool_loop_with_item_references(tmp_path: Path) -> None:
    upstream = WeatherUpstream()
    gateway = compile_gateway(tmp_path, spec(str(tmp_path / "gw.db")), ENV)
    async with wired_server(gateway, ENV, transport=upstream.transport()) as gw:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "AI_SDK_NODE_MODULES": str(MODULES),
            "GATEWAY_URL": gw.url,
            "GATEWAY_KEY": ENV["ALICE_KEY"],
        }
        proc = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
        assert proc.returncode == 0, err.decode()[-4000:]
        result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["failures"] == []
    assert result["ran"] == ["Paris"] and result["steps"] == 2
    assert result["first"] == "It is sunny in Paris."
    assert result["second"] == "You first asked: What is the weather in Paris? | I last said: It is sunny in Paris."
    assert result["third"] == f"You first asked: What is the weather in Paris? | I last said: {result['second']}"
    requests = result["requests"]
    assert len(requests) == 4  # tool call, answer, second turn (streamed), third turn
    assert requests[2]["stream"] and not requests[3]["stream"]
    # The SDK referred to its earlier answers by id: the gateway served them from its store.
    assert "item_reference" in requests[2]["items"] and requests[3]["items"].count("item_reference") == 2
    assert all(r["store"] in (None, True) for r in requests)  # the SDK's default: store true
    # The upstream was sent the whole conversation the SDK meant (it leaves finished tool calls out of later
    # turns), the referenced assistant turns rebuilt from the stored items.
    last = upstream.bodies[-1]["messages"]
    said = [block["text"] for m in last if m["role"] == "assistant" for block in m["content"]]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user"]
    assert said == [result["first"], result["second"]]
