from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bifrostc.runtime.claude_gateway import service
from tests.claude_gateway.signin import signin_spec
from tests.integration.wired import Wired, compile_gateway, wired_server


class Clock:
    """Wall time plus an offset a test moves forward (device codes live 600 s; tests do not wait for that)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(service, "wall_clock", fake)
    return fake


@pytest.fixture
def serve(tmp_path: Path, clock: Clock) -> Callable[..., Any]:
    """``async with serve(spec_changes...) as wired``: the wired gateway for signin_spec plus ``changes``."""
    import contextlib

    @contextlib.asynccontextmanager
    async def run(spec: dict[str, Any] | None = None, **sign_in: Any) -> AsyncIterator[Wired]:
        gateway = compile_gateway(tmp_path, spec or signin_spec(tmp_path, **sign_in))
        async with wired_server(gateway) as wired:
            yield wired

    return run
