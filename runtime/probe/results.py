"""Where the last probe lives: `bifrostc probe --out OUT` writes OUT/probe.json; `explain --out` and the dashboard
read it back. Kept apart from the runner so the dashboard reads results without importing the prober."""

from __future__ import annotations

import json
import pathlib
from typing import Any

PROBE_FILE = "probe.json"


def load_probe(path: pathlib.Path) -> dict[str, Any] | None:
    """The probe document at `path`, or None when there is none or it is unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
