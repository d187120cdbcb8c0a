"""Responses API custom (freeform) tools <-> canonical function tools.

A ``custom`` tool takes raw text, not JSON (Codex's ``apply_patch`` is one, with a Lark grammar). Only OpenAI's own
Responses models can call it natively, so the gateway offers it to every upstream as a function tool with a single
string parameter, ``input``; the text's format (the tool's grammar) goes into that parameter's description. The
model's call comes back to the client as a ``custom_tool_call`` item carrying the text, and the client's
``custom_tool_call`` / ``custom_tool_call_output`` input items become ordinary tool calls and results again.
"""

from __future__ import annotations

from typing import Any

import orjson

from bifrostc.runtime.translate.common import dumps, expect_str
from bifrostc.runtime.types import Tool

INPUT = "input"  # the one parameter of a custom tool's function form


def custom_tool(tool: dict[str, Any], where: str) -> Tool:
    """A ``{"type": "custom", "name", "description", "format"}`` tool as a function tool taking ``input``."""
    name = expect_str(tool.get("name"), f"{where}.name")
    description = tool.get("description")
    hint = "The raw text for this tool, passed on verbatim (it is not JSON; escape it only as a JSON string)."
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        syntax = fmt.get("syntax")
        grammar = f"{syntax} grammar" if isinstance(syntax, str) and syntax else "grammar"
        hint += f" It must match this {grammar}:\n{fmt['definition']}"
    parameters = {
        "type": "object",
        "properties": {INPUT: {"type": "string", "description": hint}},
        "required": [INPUT],
        "additionalProperties": False,
    }
    return Tool(name, expect_str(description, f"{where}.description") if description is not None else None, parameters)


def custom_call_arguments(text: str) -> str:
    """A ``custom_tool_call``'s input as the arguments of the function call the model made."""
    return dumps({INPUT: text})


def custom_input(arguments: str) -> str:
    """The text of a custom tool call from the function arguments the upstream model produced.

    ``{"input": text}`` is the contract; a lone string value under another key, or a bare JSON string, is accepted
    too; anything else (truncated or free-form JSON) is handed over as it came.
    """
    try:
        value = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if isinstance(value.get(INPUT), str):
            return value[INPUT]
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(value) == 1 and len(strings) == 1:
            return strings[0]
        if not value:
            return ""
    return arguments


def custom_tool_names(request: dict[str, Any] | None) -> frozenset[str]:
    """The names of the custom tools a client's request offered (their calls go back as custom_tool_call)."""
    tools = request.get("tools") if isinstance(request, dict) else None
    if not isinstance(tools, list):
        return frozenset()
    return frozenset(
        t["name"] for t in tools if isinstance(t, dict) and t.get("type") == "custom" and isinstance(t.get("name"), str)
    )


def custom_tool_call_item(item_id: str, call_id: str, name: str, text: str) -> dict[str, Any]:
    return {"type": "custom_tool_call", "id": item_id, "call_id": call_id, "name": name, "input": text}


def custom_tool_echo(tool: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "custom", "name": tool["name"]}
    description = tool.get("description")
    out["description"] = description if isinstance(description, str) else None
    out["format"] = tool.get("format") if isinstance(tool.get("format"), dict) else {"type": "text"}
    return out
