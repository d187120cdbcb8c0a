"""Reasoning-signature provenance, so a conversation can hop between model families without a 400.

Claude and Gemini both sign their reasoning and validate every signature sent back to them. Claude's
signatures are valid across the Anthropic API, Bedrock and Vertex; Gemini's only at Gemini. A client that
talks to the gateway cannot tell them apart, so signatures leave the gateway marked with their family
(``bfc:gemini:<signature>``) unless they are Claude's, which stay as they are: Claude clients pass them
through byte-for-byte and must keep seeing what Claude sent. On the way back each builder keeps only the
signatures its family issued and drops the rest, instead of sending a signature its provider would reject.
"""

from __future__ import annotations

from typing import Literal

Family = Literal["claude", "gemini", "openrouter", "openai"]  # openai: Responses encrypted reasoning

FOREIGN_MARK = "bfc:"  # every non-Claude signature starts with it
_MARK = FOREIGN_MARK
# Gemini's documented sentinel for function calls it did not sign (history from another model).
GEMINI_SKIP_VALIDATOR = "skip_thought_signature_validator"


def mark(family: Family, signature: str) -> str:
    """The signature as clients see it: Claude's unchanged, any other family's tagged with its name."""
    return signature if family == "claude" else f"{_MARK}{family}:{signature}"


def native(family: Family, signature: str | None) -> str | None:
    """The provider-native signature if ``family`` issued it, else None (empty, unsigned or foreign)."""
    if not signature:
        return None
    if family == "claude":
        return None if signature.startswith(_MARK) else signature
    prefix = f"{_MARK}{family}:"
    return signature[len(prefix) :] if signature.startswith(prefix) and len(signature) > len(prefix) else None
