"""Cosine similarity in plain Python: buckets are small (one scope, one conversation prefix)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def normalise(vector: Sequence[float]) -> list[float]:
    """Unit-length copy, so a stored vector's similarity is a single dot product."""
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0.0:
        return [0.0] * len(vector)
    return [x / norm for x in vector]


def cosine_unit(a: Sequence[float], b: Sequence[float]) -> float:
    """Dot product of two unit vectors; 0.0 when dimensions differ (a changed embedding model)."""
    if len(a) != len(b):
        return 0.0
    return math.fsum(x * y for x, y in zip(a, b, strict=True))
