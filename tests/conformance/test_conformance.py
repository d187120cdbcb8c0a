"""issue 9 "Done when": every adapter family, through the same upstream behaviours, gives the client the same
result: status, error type, fallback taken or not, retry-after relayed, breaker verdict.

Each case runs all families against a real TCP fake upstream speaking that family's wire format (wire.py)
behind the real app and its aiohttp pool, then compares. Client dialects: Anthropic (Claude Code) and OpenAI
Chat; so the Anthropic family and the OpenAI family are also exercised on the passthrough path.
"""

from __future__ import annotations

import pytest

from .gateway import Seen, rig
from .upstream import BEHAVIOURS, RETRY_AFTER
from .wire import FAMILIES

ERROR_TYPES = {  # client-visible error type per (dialect, status)
    "anthropic": {
        400: "invalid_request_error",
        429: "rate_limit_error",
        500: "api_error",
        502: "api_error",
        529: "overloaded_error",
    },
    "openai": {
        400: "invalid_request_error",
        429: "rate_limit_error",
        500: "server_error",
        502: "server_error",
        529: "server_error",
    },
}
FAILED_STATUS = {"4xx": 400, "429": 429, "5xx": 500, "529": 529, "refused": 502, "reset_before": 502, "malformed": 502}


def expected(
    behaviour: str, dialect: str, *, stream: bool, fallback_route: bool
) -> tuple[int, str | None, bool, str | None, bool]:
    """(status, error type, fallback taken, retry-after, error event) the client must see."""
    if behaviour == "ok" or (behaviour == "reset_after" and stream):
        return 200, None, False, None, behaviour == "reset_after"
    status = FAILED_STATUS.get(behaviour, 502)
    falls_back = fallback_route and status != 400
    if falls_back:
        return 200, None, True, None, False
    return status, ERROR_TYPES[dialect][status], False, RETRY_AFTER if behaviour == "429" else None, False


def _route(behaviour: str, fallback_route: bool) -> str:
    base = "main" if fallback_route else "solo"
    return f"{base}-refused" if behaviour == "refused" else base


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
async def test_every_family_gives_the_same_client_result(behaviour: str, stream: bool, dialect: str) -> None:
    seen: dict[str, tuple[Seen, Seen]] = {}
    for name, family in FAMILIES.items():
        async with rig(family) as gateway:
            gateway.script.behaviour = behaviour
            solo = await gateway.call(dialect, _route(behaviour, False), stream=stream)
            main = await gateway.call(dialect, _route(behaviour, True), stream=stream)
            seen[name] = (solo, main)
    for fallback_route, index in ((False, 0), (True, 1)):
        want = expected(behaviour, dialect, stream=stream, fallback_route=fallback_route)
        got = {
            name: (s.status, s.error_type, s.fallback, s.retry_after, s.error_event)
            for name, (*pair,) in seen.items()
            for s in [pair[index]]
        }
        wrong = {name: result for name, result in got.items() if result != want}
        assert not wrong, f"{'main' if fallback_route else 'solo'} route: expected {want}, got {wrong}"
    verdicts = {name: solo.breaker_failed for name, (solo, _main) in seen.items()}
    assert len(set(verdicts.values())) == 1, f"breaker verdicts differ: {verdicts}"
