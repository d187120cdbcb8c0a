"""One session's request-log rows as a tree: the main thread, its subagents, theirs (`GET /api/sessions/{id}`).

Claude Code sends `x-claude-code-session-id` on every request and, for a subagent's requests,
`x-claude-code-agent-id` (and `x-claude-code-parent-agent-id` for an agent a subagent started); the log keeps
them per row (`session_id`, `agent_id`, `parent_agent_id`, `request_class`). Rows without an agent are the main
thread's; an agent whose parent is not among the rows hangs under the main thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def session_tree(session_id: str, rows: Sequence[dict[str, Any]], *, truncated: bool = False) -> dict[str, Any]:
    """`rows` in any order (the store's newest first); each node's rows come oldest first."""
    ordered = sorted(rows, key=lambda row: (row.get("ts") or 0.0, row.get("seq") or 0))
    agents: dict[str, dict[str, Any]] = {}
    main: list[dict[str, Any]] = []
    for row in ordered:
        agent = row.get("agent_id")
        if not agent:
            main.append(row)
            continue
        node = agents.setdefault(agent, {"agent_id": agent, "parent_agent_id": None, "rows": [], "agents": []})
        node["parent_agent_id"] = node["parent_agent_id"] or row.get("parent_agent_id")
        node["rows"].append(row)
    top: list[dict[str, Any]] = []
    for agent, node in agents.items():
        parent = node["parent_agent_id"]
        if parent and parent != agent and parent in agents and not _under(agents, parent, agent):
            agents[parent]["agents"].append(node)
        else:
            top.append(node)
    for node in agents.values():
        node.update(_totals(node["rows"]))
    return {
        "session_id": session_id,
        **_totals(ordered),
        "truncated": truncated,
        "rows": main,
        "agents": top,
    }


def _under(agents: dict[str, dict[str, Any]], node: str, ancestor: str) -> bool:
    """Whether `ancestor` is already above `node` (a parent cycle in client-sent ids)."""
    seen: set[str] = set()
    current: str | None = node
    while current and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = agents[current]["parent_agent_id"] if current in agents else None
    return False


def _totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    classes: dict[str, int] = {}
    for row in rows:
        kind = row.get("request_class") or "unknown"
        classes[kind] = classes.get(kind, 0) + 1
    return {
        "requests": len(rows),
        "cost_usd": sum(float(row.get("cost_usd") or 0.0) for row in rows),
        "input_tokens": sum(int(row.get("input_tokens") or 0) for row in rows),
        "output_tokens": sum(int(row.get("output_tokens") or 0) for row in rows),
        "request_classes": dict(sorted(classes.items())),
    }
