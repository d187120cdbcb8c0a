"""Resolve model references (public names, aliases, ``provider/model`` strings) the same way everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field

from bifrostc.compiler.spec import GatewaySpec
from bifrostc.runtime.router import TIERS as MATCH_ORDER  # the order the runtime tries tiers in a model id

TIERS: tuple[str, ...] = ("sonnet", "opus", "haiku")


@dataclass(frozen=True)
class Resolver:
    """Maps every public name and alias to its canonical public name."""

    canonical: dict[str, str]
    providers: frozenset[str]
    tiers: dict[str, str] = field(default_factory=dict)  # Claude Code tier -> canonical public name

    @classmethod
    def of(cls, spec: GatewaySpec) -> Resolver:
        canonical: dict[str, str] = {}
        for name, model in spec.models.items():
            for alias in model.aliases:
                canonical.setdefault(alias, name)
            canonical[name] = name
        tiers = {t: canonical[r] for t in TIERS if (r := getattr(spec.claude_code, t)) and r in canonical}
        return cls(canonical, frozenset(spec.providers), tiers)

    def resolve(self, ref: str) -> str | None:
        """The canonical public name, the ``provider/model`` string itself, or None when it names nothing."""
        if ref in self.canonical:
            return self.canonical[ref]
        provider, slash, model = ref.partition("/")
        if slash and model and provider in self.providers:
            return ref
        return None

    def resolve_request(self, ref: str) -> str | None:
        """What a request for ``ref`` is served by, as the runtime router resolves it: a name, alias or
        ``provider/model``, else a tier (``sonnet``) or a Claude model id holding one (``claude-sonnet-4-5``)."""
        found = self.resolve(ref)
        if found is not None:
            return found
        lowered = ref.lower()
        return next((self.tiers[t] for t in MATCH_ORDER if t in lowered and t in self.tiers), None)

    def known(self) -> list[str]:
        return sorted(self.canonical)


def split_target(ref: str) -> tuple[str, str] | None:
    """``openai/gpt-5`` -> ``("openai", "gpt-5")``; model ids may themselves hold slashes."""
    provider, slash, model = ref.partition("/")
    return (provider, model) if slash and provider and model else None
