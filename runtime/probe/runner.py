"""Drives the probe script through the same adapters, keys and network settings `bifrostc serve` uses."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.governance.pricing import cost_usd, find_price
from bifrostc.runtime.http import build_client
from bifrostc.runtime.loadout import resolve_keys
from bifrostc.runtime.probe import script
from bifrostc.runtime.probe.observe import Observation, observe
from bifrostc.runtime.probe.verdict import Status, Steps, Verdict, judge, worst
from bifrostc.runtime.providers import adapter_class
from bifrostc.runtime.providers.model_caps import accepts_reasoning_effort
from bifrostc.runtime.router import Router
from bifrostc.runtime.translate import anthropic as anthropic_dialect
from bifrostc.runtime.types import ChatRequest, Usage

# Models whose reasoning the canonical `thinking` field turns on, by family; OpenAI-style reasoning models
# take `reasoning_effort` instead (model_caps decides).
_CLAUDE_THINKING = re.compile(r"claude-(3-7|sonnet-4|opus-4|haiku-4|4)", re.I)
_GEMINI_THINKING = re.compile(r"gemini-(2\.5|3)", re.I)
_OPENAI_FAMILY = {"openai", "azure", "deepseek", "openrouter", "groq", "xai", "together", "fireworks", "vllm"}


@dataclass
class TargetResult:
    provider: str
    model: str
    verdict: Verdict
    steps: Steps

    def as_json(self) -> dict[str, Any]:
        tool = self.steps.tool
        return {
            "provider": self.provider,
            "model": self.model,
            "status": self.verdict.status,
            "reasons": self.verdict.reasons,
            "caveats": self.verdict.caveats,
            "hints": self.verdict.hints,
            "ttft_ms": None if tool.ttft_ms is None else round(tool.ttft_ms, 1),
            "arguments_streamed": any(n > 1 for n in tool.argument_deltas.values()),
            "usage": {"input_tokens": tool.usage.input_tokens, "output_tokens": tool.usage.output_tokens},
            "thinking": self.steps.thinking,
            "parallel_calls": len(self.steps.parallel.tool_calls) if self.steps.parallel else None,
            "count_tokens": self.steps.count_method,
        }


@dataclass
class RouteResult:
    route: str
    tiers: list[str]
    targets: list[TargetResult] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return worst([target.verdict.status for target in self.targets])


@dataclass(frozen=True)
class PlannedStep:
    route: str
    provider: str
    model: str
    step: str
    request: ChatRequest
    estimated_usd: float


def routes_to_probe(gateway: config.Gateway, names: list[str]) -> list[config.Route]:
    """The named routes (public names, aliases or tiers), or every route once; KeyError names an unknown one."""
    unique: dict[int, config.Route] = {}
    if not names:
        for route in gateway.routes.values():
            unique.setdefault(id(route), route)
        return sorted(unique.values(), key=lambda route: route.name)
    for name in names:
        found = gateway.routes.get(gateway.tiers.get(name, name))
        if found is None:
            raise KeyError(name)
        unique.setdefault(id(found), found)
    return list(unique.values())


def tiers_of(gateway: config.Gateway, route: config.Route) -> list[str]:
    return sorted(tier for tier, name in gateway.tiers.items() if gateway.routes.get(name) is route)


def _reasoning(provider: config.Provider, model: str) -> str:
    """How the script asks this target to think: 'thinking', 'effort', or '' (not a reasoning model)."""
    if _CLAUDE_THINKING.search(model) and provider.type in ("anthropic", "bedrock", "vertex"):
        return "thinking"
    if _GEMINI_THINKING.search(model) and provider.type in ("gemini", "vertex"):
        return "thinking"
    if provider.type in _OPENAI_FAMILY and accepts_reasoning_effort(provider, model):
        return "effort"
    return ""


def _with_reasoning(request: ChatRequest, how: str) -> ChatRequest:
    if how == "effort":
        request.thinking, request.reasoning_effort = None, "low"
        request.max_tokens = script.MAX_TOKENS + script.THINKING_BUDGET
    return request


def _script(model: str, how: str) -> list[tuple[str, ChatRequest]]:
    """The requests in order, as planned before turn 1 answers (turn 2 is shown with a stand-in reply)."""
    thinking = how == "thinking"
    first = _with_reasoning(script.tool_turn(model, thinking=thinking), how)
    return [
        ("tool turn", first),
        ("answer turn", _with_reasoning(script.answer_turn(model, [], thinking=thinking), how)),
        ("parallel turn", script.parallel_turn(model)),
    ]


def _estimate(gateway: config.Gateway, provider: str, model: str, request: ChatRequest) -> float:
    body = anthropic_dialect.build_request(request, model=model)
    prompt = len(str(body)) // 4  # ~4 characters a token: a dry run only needs the order of magnitude
    usage = Usage(input_tokens=prompt, output_tokens=request.max_tokens or script.MAX_TOKENS)
    return cost_usd(provider, model, usage, gateway.pricing)


def plan(gateway: config.Gateway, routes: list[config.Route]) -> Iterator[PlannedStep]:
    """What a probe would send, with an upper-bound cost per step (for `--dry-run`)."""
    for route in routes:
        for target in route.targets:
            provider = gateway.providers[target.provider]
            for step, request in _script(target.model, _reasoning(provider, target.model)):
                cost = _estimate(gateway, provider.name, target.model, request)
                yield PlannedStep(route.name, provider.name, target.model, step, request, cost)


class Prober:
    def __init__(
        self,
        gateway: config.Gateway,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        thinking: bool = True,
    ) -> None:
        self.gateway = gateway
        self.timeout = timeout
        self.thinking = thinking
        self.client = build_client(transport)
        self.secrets = resolve_keys(gateway, environ)
        self.router = Router(gateway, rng=random.Random(0))
        self._adapters: dict[str, Any] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    def _adapter(self, provider: config.Provider) -> Any:
        if provider.name not in self._adapters:
            self._adapters[provider.name] = adapter_class(provider.type)(provider, self.client)
        return self._adapters[provider.name]

    def _key(self, provider: config.Provider, model: str) -> str | None:
        key = self.router.choose_key(provider, model, lambda k: k.env in self.secrets)
        return self.secrets[key.env] if key is not None else None

    async def route(self, route: config.Route, on_target: Callable[[TargetResult], None] | None = None) -> RouteResult:
        result = RouteResult(route.name, tiers_of(self.gateway, route))
        for target in route.targets:
            probed = await self.target(self.gateway.providers[target.provider], target.model)
            result.targets.append(probed)
            if on_target is not None:
                on_target(probed)
        return result

    async def target(self, provider: config.Provider, model: str) -> TargetResult:
        adapter, key = self._adapter(provider), self._key(provider, model)
        how = _reasoning(provider, model) if self.thinking else ""

        async def run(request: ChatRequest) -> Observation:
            return await observe(adapter.stream(request, model=model, api_key=key), self.timeout)

        thinking = how == "thinking"
        first = _with_reasoning(script.tool_turn(model, thinking=thinking), how)
        steps = Steps(tool=await run(first), reasoning=how)
        steps.priced = provider.type == "mock" or find_price(provider.name, model, self.gateway.pricing) is not None
        if steps.tool.response is not None and steps.tool.tool_calls:
            assistant = steps.tool.response.content
            steps.answer = await run(_with_reasoning(script.answer_turn(model, assistant, thinking=thinking), how))
            steps.parallel = await run(script.parallel_turn(model))
            await self._count(adapter, model, key, first, steps)
        return TargetResult(provider.name, model, judge(steps), steps)

    async def _count(self, adapter: Any, model: str, key: str | None, request: ChatRequest, steps: Steps) -> None:
        counter = getattr(adapter, "count_tokens", None)
        if counter is None:
            return  # the gateway estimates for this family; nothing to check upstream
        body = anthropic_dialect.build_request(request, model=model)
        body.pop("stream", None)
        body.pop("max_tokens", None)
        try:
            await counter(body, model=model, api_key=key, client_headers={})
            steps.count_method = "provider"
        except Exception as exc:  # any failure of an optional endpoint is reported, never raised
            steps.count_method, steps.count_error = "error", str(exc)[:300]
