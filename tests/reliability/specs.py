"""The offline gateway spec the reliability tests serve (the mock provider on every Claude Code tier)."""

from __future__ import annotations

MOCK_SPEC = """\
version: 1
providers:
  mock: {type: mock}
models:
  echo: {target: mock/echo}
claude_code: {sonnet: echo, opus: echo, haiku: echo}
cache: {mode: off}
"""


def mock_spec(observability: str = "") -> str:
    """MOCK_SPEC with an ``observability:`` block (a YAML flow mapping) when one is given."""
    return MOCK_SPEC + (f"observability: {observability}\n" if observability else "")
