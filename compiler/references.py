"""Resolve model references (public names, aliases, ``provider/model`` strings) the same way everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from bifrostc.compiler.spec import GatewaySpec

TIERS: tuple[str, ...] = ("sonnet", "opus", "haiku")


@dataclass(frozen=True)
class Resolver:
    """Maps every public name and alias to its canonical public name."""

    canonical: dict[str, str]
    providers: frozenset[str]

    @classmethod
    def of(cls, spec: GatewaySpec) -> Resolver:
        canonical: dict[str, str] = {}
        for name, model in spec.models.items():
            for alias in model.aliases:
                canonical.setdefault(alias, name)
            canonical[name] = name
        return cls(canonical, frozenset(spec.providers))

    def resolve(self, ref: str) -> str | None:
        """The canonical public name, the ``provider/model`` string itself, or None when it names nothing."""
        if ref in self.canonical:
            return self.canonical[ref]
        provider, slash, model = ref.partition("/")
        if slash and model and provider in self.providers:
            return ref
        return None

    def known(self) -> list[str]:
        return sorted(self.canonical)


def split_target(ref: str) -> tuple[str, str] | None:
    """``openai/gpt-5`` -> ``("openai", "gpt-5")``; model ids may themselves hold slashes."""
    provider, slash, model = ref.partition("/")
    return (provider, model) if slash and provider and model else None
