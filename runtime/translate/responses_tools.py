"""Responses API custom (freeform) tools <-> canonical function tools.

A ``custom`` tool takes raw text, not JSON (Codex's ``apply_patch`` is one, with a Lark grammar). Only OpenAI's own
Responses models can call it natively, so the gateway offers it to every upstream as a function tool with a single
string parameter, ``input``; the text's format (the tool's grammar) goes into that parameter's description. The
model's call comes back to the client as a ``custom_tool_call`` item carrying the text, and the client's
``custom_tool_call`` / ``custom_tool_call_output`` input items become ordinary tool calls and results again.

A ``namespace`` tool groups function and custom tools under a shared name (Codex sends its sub-agent tools as the
``multi_agent_v1`` namespace to models it does not know). No upstream has namespaces, so each inner tool is offered
flat, as ``<namespace>__<name>`` (made provider-safe the way the OpenAI adapter shortens long names), its
description prefixed with the namespace's. Calls to it go back with the inner ``name`` and the ``namespace``.
Both directions use one table computed from the request's tools alone (``client_tools``), so the mapping is a pure
function of the request, as it is for custom tools.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate.common import (
    dumps,
    expect_dict,
    expect_list,
    expect_str,
    openai_tool_name,
    optional_bool,
    shortened_tool_name,
)
from bifrostc.runtime.types import Tool

INPUT = "input"  # the one parameter of a custom tool's function form
NAMESPACE_SEPARATOR = "__"  # <namespace>__<name>, as the MCP gateway names its servers' tools
_CALLABLE = ("function", "custom")


@dataclass(frozen=True, slots=True)
class ClientTool:
    """A function or custom tool of the request; ``name`` is its canonical (upstream) name."""

    name: str
    type: str  # function | custom
    client_name: str  # the name the client calls it by (inside its namespace, if any)
    namespace: str | None = None
    namespace_description: str | None = None
    spec: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    where: str = ""  # its JSON path in the request, for error messages


# --- the request's tools ---------------------------------------------------------------------------


def client_tools(tools: Any) -> list[ClientTool]:
    """The request's function and custom tools in order, those inside ``namespace`` tools flattened.

    Top-level tools keep their names. A namespaced tool is ``openai_tool_name("<namespace>__<name>")``; should that
    name be taken (by a top-level tool, or another namespace's ``a__b``/``c`` against ``a``/``b__c``), it is cut
    the same way with a hash of the (namespace, name) pair instead. Hosted tools are skipped.
    """
    listed = [expect_dict(t, f"tools[{i}]") for i, t in enumerate(expect_list(tools or [], "tools"))]
    taken = {t["name"] for t in listed if t.get("type") in _CALLABLE and isinstance(t.get("name"), str)}
    pairs: set[tuple[str, str]] = set()  # (namespace, name) of the namespaced tools so far
    out: list[ClientTool] = []
    for i, tool in enumerate(listed):
        kind = tool.get("type")
        if kind in _CALLABLE:
            name = expect_str(tool.get("name"), f"tools[{i}].name")
            out.append(ClientTool(name, kind, name, spec=tool, where=f"tools[{i}]"))
        elif kind == "namespace":
            out.extend(_namespace_tools(tool, f"tools[{i}]", taken, pairs))
    return out


def _namespace_tools(
    tool: dict[str, Any], where: str, taken: set[str], pairs: set[tuple[str, str]]
) -> Iterator[ClientTool]:
    namespace = expect_str(tool.get("name"), f"{where}.name")
    description = tool.get("description")
    description = expect_str(description, f"{where}.description") if description is not None else None
    for j, inner in enumerate(expect_list(tool.get("tools") or [], f"{where}.tools")):
        inner_where = f"{where}.tools[{j}]"
        inner = expect_dict(inner, inner_where)
        if inner.get("type") not in _CALLABLE:
            continue
        name = expect_str(inner.get("name"), f"{inner_where}.name")
        if (namespace, name) in pairs:  # no name could tell their calls apart
            raise InvalidRequest(f"{inner_where}.name: namespace {namespace!r} already has a tool {name!r}")
        flat = namespaced_name(namespace, name)
        if flat in taken:
            flat = shortened_tool_name(f"{namespace}{NAMESPACE_SEPARATOR}{name}", key=f"{namespace}\0{name}")
        pairs.add((namespace, name))
        taken.add(flat)
        yield ClientTool(flat, inner["type"], name, namespace, description, inner, inner_where)


def tool_count(tools: Any) -> int | None:
    """How many canonical tools `client_tools` makes of a body's ``tools`` (namespaces flattened), without building
    them: a relayed request logs this count (handlers/relay_parse.py). None when only the parse can tell: not a
    list of objects, or a namespace whose tools are not, or one whose flat name is taken (the table shortens it,
    or refuses a duplicate), since a parse without the tools names a namespace's calls `namespaced_name`."""
    if not tools:
        return 0
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        return None
    taken = {tool.get("name") for tool in tools if tool.get("type") in _CALLABLE}
    count = 0
    for tool in tools:
        kind = tool.get("type")
        if kind in _CALLABLE:
            count += 1
            continue
        if kind != "namespace":
            continue  # a hosted tool: no canonical form
        namespace, inner = tool.get("name"), tool.get("tools") or []
        if not isinstance(namespace, str) or not isinstance(inner, list):
            return None
        for item in inner:
            if not isinstance(item, dict):
                return None
            if item.get("type") not in _CALLABLE:
                continue
            if not isinstance(item.get("name"), str):
                return None
            flat = namespaced_name(namespace, item["name"])
            if flat in taken:
                return None
            taken.add(flat)
            count += 1
    return count


def namespaced_name(namespace: str, name: str) -> str:
    """The flat name of a namespace's tool, when nothing else in the request holds it."""
    return openai_tool_name(f"{namespace}{NAMESPACE_SEPARATOR}{name}")


def tool_table(request: dict[str, Any] | None) -> dict[str, ClientTool]:
    """Canonical name -> the client's tool, for mapping the model's calls back (empty if the tools are malformed:
    such a request was refused before any answer)."""
    tools = request.get("tools") if isinstance(request, dict) else None
    try:
        return {t.name: t for t in client_tools(tools)}
    except InvalidRequest:
        return {}


def canonical_tools(tools: list[ClientTool]) -> tuple[list[Tool], dict[str, bool]]:
    """The canonical tools, and the ``strict`` flags the client set (by canonical name)."""
    out: list[Tool] = []
    strict: dict[str, bool] = {}
    for tool in tools:
        parse = custom_tool if tool.type == "custom" else function_tool
        canonical = parse(tool.spec, tool.where)
        if tool.namespace is not None:
            description = "\n\n".join(d for d in (tool.namespace_description, canonical.description) if d)
            canonical = replace(canonical, name=tool.name, description=description or None)
        out.append(canonical)
        tool_strict = optional_bool(tool.spec.get("strict"), f"{tool.where}.strict")
        if tool.type == "function" and tool_strict is not None:
            strict[tool.name] = tool_strict
    return out, strict


def function_tool(tool: dict[str, Any], where: str) -> Tool:
    name = expect_str(tool.get("name"), f"{where}.name")
    parameters = tool.get("parameters") or {"type": "object", "properties": {}}
    description = tool.get("description")
    return Tool(
        name,
        expect_str(description, f"{where}.description") if description is not None else None,
        expect_dict(parameters, f"{where}.parameters"),
    )


def call_name(item: dict[str, Any], where: str, by_client: dict[tuple[str, str], str]) -> str:
    """The canonical name of a ``function_call``/``custom_tool_call`` input item (``by_client``: (namespace, name)
    -> canonical name); a namespace the request no longer offers still gets its flat name."""
    name = expect_str(item.get("name"), f"{where}.name")
    namespace = item.get("namespace")
    if not namespace:
        return name
    namespace = expect_str(namespace, f"{where}.namespace")
    return by_client.get((namespace, name)) or namespaced_name(namespace, name)


# --- custom tools ----------------------------------------------------------------------------------


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
        given = value.get(INPUT)
        if isinstance(given, str):
            return given
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(value) == 1 and len(strings) == 1:
            return strings[0]
        if not value:
            return ""
    return arguments


def custom_tool_call_item(
    item_id: str, call_id: str, name: str, text: str, namespace: str | None = None
) -> dict[str, Any]:
    item = {"type": "custom_tool_call", "id": item_id, "call_id": call_id, "name": name, "input": text}
    return item if namespace is None else {**item, "namespace": namespace}


def custom_tool_echo(tool: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "custom", "name": tool["name"]}
    description = tool.get("description")
    out["description"] = description if isinstance(description, str) else None
    out["format"] = tool.get("format") if isinstance(tool.get("format"), dict) else {"type": "text"}
    return out
