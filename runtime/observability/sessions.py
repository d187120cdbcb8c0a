"""One session's request-log rows as a tree: the main thread, its subagents, theirs (`GET /api/sessions/{id}`).

Claude Code sends `x-claude-code-session-id` on every request and, for a subagent's requests,
`x-claude-code-agent-id` (and `x-claude-code-parent-agent-id` for an agent a subagent started); the log keeps
them per row (`session_id`, `agent_id`, `parent_agent_id`, `request_class`). Rows without an agent are the main
thread's; an agent whose parent is not among the rows hangs under the main thread.

Every node (and the session) carries its totals: requests, turns (main-class requests), tool-call turns (rows
that stopped for a tool), errors, tokens with the cache-read share of the prompt, cost, and the models and
providers used. `session_list` folds recent rows into one summary per session (`GET /api/sessions`).
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


TOOL_STOPS = frozenset({"tool_use", "tool_calls"})  # the canonical stop reason, and OpenAI's finish_reason


def session_list(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per session among `rows` (rows without a session skipped), the latest active first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("session_id"):
            groups.setdefault(str(row["session_id"]), []).append(row)
    summaries = [
        {
            "session_id": session,
            "first_ts": min(float(r.get("ts") or 0.0) for r in group),
            "last_ts": max(float(r.get("ts") or 0.0) for r in group),
            "agents": len({r["agent_id"] for r in group if r.get("agent_id")}),
            **_totals(group),
        }
        for session, group in groups.items()
    ]
    return sorted(summaries, key=lambda s: (-s["last_ts"], s["session_id"]))


def _counts(rows: Sequence[dict[str, Any]], field: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in rows:
        if row.get(field):
            found[str(row[field])] = found.get(str(row[field]), 0) + 1
    return dict(sorted(found.items()))


def _totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    classes: dict[str, int] = {}
    for row in rows:
        kind = row.get("request_class") or "unknown"
        classes[kind] = classes.get(kind, 0) + 1
    fresh = sum(int(row.get("input_tokens") or 0) for row in rows)
    cache_read = sum(int(row.get("cache_read_tokens") or 0) for row in rows)
    cache_write = sum(int(row.get("cache_write_tokens") or 0) for row in rows)
    prompt = fresh + cache_read + cache_write
    return {
        "requests": len(rows),
        "turns": sum(1 for row in rows if row.get("request_class") in (None, "main")),
        "tool_calls": sum(1 for row in rows if row.get("finish_reason") in TOOL_STOPS),
        "errors": sum(1 for row in rows if int(row.get("status") or 200) >= 400),
        "cost_usd": sum(float(row.get("cost_usd") or 0.0) for row in rows),
        "input_tokens": fresh,
        "output_tokens": sum(int(row.get("output_tokens") or 0) for row in rows),
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "cache_read_share": cache_read / prompt if prompt else None,
        "models": _counts(rows, "requested_model"),
        "providers": _counts(rows, "provider"),
        "request_classes": dict(sorted(classes.items())),
    }
