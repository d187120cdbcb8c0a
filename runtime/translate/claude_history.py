"""Two rules Claude enforces on conversation history, applied where a request is bound for Claude.

1. Every ``thinking`` block must carry a signature Claude issued. Turns another provider served carry none
   (OpenAI) or a foreign one (Gemini, see ``signatures``); those blocks are dropped.
2. With thinking on, the last assistant turn must open with a thinking block if it holds ``tool_use``
   ("Expected `thinking` or `redacted_thinking`, but found `tool_use`"). When that turn came from a model
   without Claude thinking, thinking is turned off for this request instead, as Anthropic's error advises;
   the next turn Claude serves itself brings its thinking back.

Works on Anthropic-shaped dicts so the same code fits built requests and passthrough bodies.
"""

from __future__ import annotations

from typing import Any

from bifrostc.runtime.translate.signatures import FOREIGN_MARK

_THINKING_TYPES = ("thinking", "redacted_thinking")  # a tuple: an unhashable "type" compares unequal, not raises


def thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def opens_without_thinking(messages: list[Any]) -> bool:
    """Whether the last assistant turn holds tool_use but does not start with a thinking block."""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return False
        uses_tools = any(isinstance(block, dict) and block.get("type") == "tool_use" for block in content)
        first = content[0]
        return uses_tools and not (isinstance(first, dict) and first.get("type") in _THINKING_TYPES)
    return False


def _unsigned(signature: Any) -> bool:
    """Not a signature Claude issued: none, or a foreign one (`native("claude", ...)` inlined). Any other value is
    left for Claude to refuse: a relayed history's earlier turns are not validated (handlers/relay_parse.py)."""
    return not signature or (isinstance(signature, str) and signature.startswith(FOREIGN_MARK))


def _foreign_thinking(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "thinking" and _unsigned(block.get("signature"))


def _has_foreign_thinking(messages: list[Any]) -> bool:
    # Runs on every passthrough request, so a plain loop over assistant turns (~0.1 µs a block) rather than
    # _foreign_thinking per block. Every shape is checked: a relayed history is not validated before it.
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, list):
                for block in content:
                    if isinstance(block, dict) and block.get("type") == "thinking":
                        if _unsigned(block.get("signature")):
                            return True
    return False


def without_foreign_thinking(messages: list[Any]) -> list[Any]:
    """``messages`` minus thinking blocks Claude did not sign; the same list object when there are none."""
    if not _has_foreign_thinking(messages):
        return messages
    cleaned = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            message = {**message, "content": [b for b in content if not _foreign_thinking(b)]}
            if not message["content"]:
                continue  # a turn that held only foreign thinking
        cleaned.append(message)
    return cleaned


def fit_for_claude(body: dict[str, Any]) -> dict[str, Any]:
    """The body with both rules applied; ``body`` itself (no copy) when it already satisfies them."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    cleaned = without_foreign_thinking(messages)
    drop_thinking = thinking_on(body) and opens_without_thinking(cleaned)
    if cleaned is messages and not drop_thinking:
        return body
    fitted = {**body, "messages": cleaned}
    if drop_thinking:
        del fitted["thinking"]
    return fitted
