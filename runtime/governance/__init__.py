"""Governance: virtual keys, permissions, budgets, rate limits and pricing (see governor.py for the hooks)."""

from bifrostc.runtime.governance.governor import Governor, Reservation
from bifrostc.runtime.governance.keys import VIRTUAL_KEY_PREFIX, KeyContext, Scope, hash_key
from bifrostc.runtime.governance.pricing import PRICES_AS_OF, cost_usd, find_price

__all__ = [
    "PRICES_AS_OF",
    "VIRTUAL_KEY_PREFIX",
    "Governor",
    "KeyContext",
    "Reservation",
    "Scope",
    "cost_usd",
    "find_price",
    "hash_key",
]
