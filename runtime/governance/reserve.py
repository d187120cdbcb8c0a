"""The most one request can cost: what admission holds against its budgets (see governor.py).

``max_cost = input estimate * input-side price + output cap * output price``, the largest over every target
the request may reach (its route's targets and, transitively, its fallbacks'), since admission happens
before a target is chosen. The output cap is the request's ``max_tokens`` (clamped to the model's documented
limit, as the adapters do), else the model's documented maximum, else ``server.budget_default_max_tokens``. Input
is estimated from the request body's size at ``BYTES_PER_TOKEN``: tokenizers produce about 4 bytes of
English, code or JSON per token, so 3 errs high, which is the side an exact budget needs. A model without a
price reserves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import orjson

from bifrostc.runtime import config
from bifrostc.runtime.governance.pricing import find_price
from bifrostc.runtime.providers.model_caps import max_output_tokens
from bifrostc.runtime.types import ChatRequest

BYTES_PER_TOKEN = 3
MAX_INPUT_TOKENS = 1_000_000  # no model reads more: bounds the estimate for bodies heavy with base64 images

Resolve = Callable[[str], config.Route | None]


def body_size(headers_length: str | None, request: ChatRequest | None) -> int:
    """Bytes of the request body: its content-length, else the parsed request re-encoded."""
    if headers_length is not None and headers_length.isdigit():
        return int(headers_length)
    if request is None:
        return 0
    return len(orjson.dumps(request, default=str))


def chain_targets(route: config.Route, resolve: Resolve) -> Iterator[config.Target]:
    """Every target of the route and, transitively, of its fallbacks (each route once)."""
    seen = {route.name}
    queue = [route]
    while queue:
        current = queue.pop(0)
        yield from current.targets
        for name in current.fallbacks:
            fallback = resolve(name)
            if fallback is not None and fallback.name not in seen:
                seen.add(fallback.name)
                queue.append(fallback)


def max_cost(
    gateway: config.Gateway, route: config.Route, request: ChatRequest | None, body_bytes: int, resolve: Resolve
) -> float:
    """USD: the largest cost the request can reach on any target it may be sent to."""
    input_tokens = min(MAX_INPUT_TOKENS, -(-body_bytes // BYTES_PER_TOKEN))
    asked = request.max_tokens if request is not None and request.max_tokens else None
    worst = 0.0
    for target in chain_targets(route, resolve):
        price = find_price(target.provider, target.model, gateway.pricing)
        if price is None:
            continue
        provider = gateway.providers.get(target.provider)
        documented = max_output_tokens(provider, target.model) if provider is not None else None
        output = asked or documented or gateway.server.budget_default_max_tokens
        if documented is not None:
            output = min(output, documented)
        input_price = max(price.input, price.cache_write or 0.0, price.cache_read or 0.0)
        worst = max(worst, (input_tokens * input_price + output * price.output) / 1_000_000)
    return worst
