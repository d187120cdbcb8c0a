"""Governance: virtual keys, permissions, budgets, rate limits and pricing (see governor.py for the hooks).

Public names load lazily (module ``__getattr__``): importing ``keys`` or ``pricing`` does not load the Governor
and its counter-store clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bifrostc.runtime.lazy import lazy_exports

if TYPE_CHECKING:
    from bifrostc.runtime.governance.governor import Governor, Reservation
    from bifrostc.runtime.governance.keys import VIRTUAL_KEY_PREFIX, KeyContext, Scope, hash_key
    from bifrostc.runtime.governance.pricing import PRICES_AS_OF, cost_usd, find_price

_EXPORTS: dict[str, str] = {
    "Governor": "bifrostc.runtime.governance.governor",
    "Reservation": "bifrostc.runtime.governance.governor",
    "VIRTUAL_KEY_PREFIX": "bifrostc.runtime.governance.keys",
    "KeyContext": "bifrostc.runtime.governance.keys",
    "Scope": "bifrostc.runtime.governance.keys",
    "hash_key": "bifrostc.runtime.governance.keys",
    "PRICES_AS_OF": "bifrostc.runtime.governance.pricing",
    "cost_usd": "bifrostc.runtime.governance.pricing",
    "find_price": "bifrostc.runtime.governance.pricing",
}

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


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
