"""A Claude Code conversation that started on Anthropic: toolu_ ids, two parallel calls, signed thinking, a
mid-conversation system turn and the metadata Claude Code sends (the history a fallback hands another family)."""

from __future__ import annotations

from typing import Any

CALL_A, CALL_B = "toolu_01AbCdEfGhIjKlMnOpQrStUv", "toolu_01ZyXwVuTsRqPoNmLkJiHgFe"


def claude_history(*, thinking: bool = True, stream: bool = True) -> dict[str, Any]:
    assistant: list[dict[str, Any]] = []
    if thinking:
        assistant.append({"type": "thinking", "thinking": "Two reads at once.", "signature": "EqQBCkYIBxgCKkA"})
    assistant += [
        {"type": "tool_use", "id": CALL_A, "name": "Read", "input": {"file_path": "/a"}},
        {"type": "tool_use", "id": CALL_B, "name": "Read", "input": {"file_path": "/b"}},
    ]
    body: dict[str, Any] = {
        "max_tokens": 32000,
        "stream": stream,
        "metadata": {"user_id": "user_" + "ab12" * 16 + "_account__session_0b1e4c2a-7d1f-4e0e-9d7b-5f0c1c2d3e4f"},
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "tools": [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "read both files"},
            {"role": "assistant", "content": assistant},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": CALL_A, "content": "alpha"},
                    {"type": "tool_result", "tool_use_id": CALL_B, "content": "beta"},
                ],
            },
            {"role": "system", "content": "The user switched to plan mode."},
            {"role": "user", "content": "now summarize"},
        ],
    }
    if thinking:
        body["thinking"] = {"type": "enabled", "budget_tokens": 4000}
    return body
