"""The README's first command, then Claude Code on it: `bifrostc init --quickstart`, build, serve, `source
out/env.sh`, `claude -p ...`. The offline mock answers like an assistant: it greets (never echoing Claude Code's
hidden <system-reminder> text), says what it is, lists files and creates one through the tool Claude Code offers,
and answers from the tool's result; Claude Code knows every model id it sees."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_claude_code import claude_binary, run_claude
from tests.e2e.test_claude_code_env_sh import sourced
from tests.integration.replicas import build, free_port, replicas

pytestmark = pytest.mark.claude_cli


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], pathlib.Path]]:
    """The README flow with a free port in place of 8080: init, build, serve; the sourced env.sh for claude."""
    binary = claude_binary()
    if binary is None:
        pytest.skip("Claude Code CLI not installed")
    root = tmp_path_factory.mktemp("quickstart")
    path = f"{pathlib.Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"  # this bifrostc
    init = subprocess.run(
        ["bifrostc", "init", "--quickstart", "-o", "gateway.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    spec = root / "gateway.yaml"
    spec.write_text(spec.read_text().replace("port: 8080", f"port: {port}"))
    build(spec, root / "out")
    home = root / "home"
    home.mkdir()
    with replicas(root / "out", 1, {}, cwd=root, ports=[port]):
        env = sourced(root / "out" / "env.sh", {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)})
        env |= {"IS_SANDBOX": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
        yield env, root


def _claude(quickstart: tuple[dict[str, str], pathlib.Path], prompt: str, work: str) -> tuple[dict[str, Any], str]:
    env, root = quickstart
    binary = claude_binary()
    assert binary is not None
    (root / work).mkdir(exist_ok=True)
    code, stdout, stderr = asyncio.run(run_claude(binary, env, root / work, prompt=prompt, tools="Bash Write"))
    assert code == 0, stderr.decode()[-2000:] + stdout.decode()[-2000:]
    result = json.loads(stdout)
    assert "<system-reminder>" not in result["result"]
    assert "unrecognized_model" not in stderr.decode()
    assert all(re.fullmatch(r"claude-(sonnet|haiku)-4-\d(\[1m\])?", model) for model in result["modelUsage"])
    return result, stderr.decode()


def test_say_hi_gets_a_greeting_not_the_hidden_prompt(quickstart: tuple[dict[str, str], pathlib.Path]) -> None:
    result, _ = _claude(quickstart, "say hi", "hi")
    assert result["result"].startswith("Hi! I'm the bifrostc mock model")
    assert result["num_turns"] == 1


def test_it_says_what_it_is(quickstart: tuple[dict[str, str], pathlib.Path]) -> None:
    result, _ = _claude(quickstart, "What are you?", "about")
    assert "bifrostc mock provider" in result["result"] and "no API key" in result["result"]


def test_list_the_files_runs_bash_and_answers_from_its_output(quickstart: tuple[dict[str, str], pathlib.Path]) -> None:
    env, root = quickstart
    (root / "files").mkdir()
    (root / "files" / "README-first.txt").write_text("x")
    result, _ = _claude((env, root), "list the files here", "files")
    assert result["num_turns"] == 2  # the tool call, then the answer from its result
    assert result["result"].startswith("Here are the files (Bash ran it):")
    assert "README-first.txt" in result["result"]


def test_create_a_file_writes_it_through_the_write_tool(quickstart: tuple[dict[str, str], pathlib.Path]) -> None:
    _, root = quickstart
    result, _ = _claude(quickstart, "create a file notes.txt with hello from the quickstart", "create")
    assert (root / "create" / "notes.txt").read_text() == "hello from the quickstart\n"
    assert result["result"] == f"Done: I created {root / 'create' / 'notes.txt'}."
