"""The ``rules:`` lists of gateway.yaml (global, and under a customer, a team or a virtual key) and Claude Code's
routing slots, which the compiler expands into named rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleTargetSpec(_Spec):
    provider: str
    model: str
    weight: Annotated[float, Field(gt=0)] = 1.0


class RuleSpec(_Spec):
    """First match wins: the key's rules, its team's, its customer's, then the global ones."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    when: str = Field(description='A CEL condition, e.g. input_tokens > 60000 || "web_search" in tools.')
    route: str | None = Field(default=None, description="A public model name or 'provider/model'.")
    targets: list[RuleTargetSpec] = Field(default_factory=list, description="Weighted targets, like a route's.")
    fallbacks: list[str] = Field(default_factory=list)
    priority: int = Field(default=0, description="Lower first within a scope; then file order.")


class LongContextSlotSpec(_Spec):
    over_tokens: Annotated[int, Field(gt=0)] = 60000
    route: str


class ClaudeRoutingSpec(_Spec):
    """claude-code-router's slots, as rules (checked before the spec's global rules)."""

    background: str | None = Field(default=None, description="Route for haiku-tier (background) requests.")
    thinking: str | None = Field(default=None, description="Route for requests with thinking on.")
    long_context: LongContextSlotSpec | None = None
    web_search: str | None = Field(default=None, description="Route for requests carrying the web_search tool.")


def expand_slots(routing: ClaudeRoutingSpec | None) -> list[tuple[str, RuleSpec]]:
    """``claude_code.routing`` -> (spec path text, rule) pairs, in claude-code-router's precedence."""
    if routing is None:
        return []
    slots: list[tuple[str, RuleSpec]] = []
    if routing.long_context is not None:
        when = f"input_tokens > {routing.long_context.over_tokens}"
        slots.append(
            ("long_context", RuleSpec(name="claude_code.long_context", when=when, route=routing.long_context.route))
        )
    if routing.web_search:
        slots.append(
            (
                "web_search",
                RuleSpec(name="claude_code.web_search", when='"web_search" in tools', route=routing.web_search),
            )
        )
    if routing.thinking:
        slots.append(("thinking", RuleSpec(name="claude_code.thinking", when="thinking", route=routing.thinking)))
    if routing.background:
        slots.append(
            ("background", RuleSpec(name="claude_code.background", when='tier == "haiku"', route=routing.background))
        )
    return slots
