"""Property: no request body gets a 5xx. Bodies from each dialect's documented request schema, a few fields
spoiled with wrong-typed values, go through the HTTP surface (the ASGI app, fake upstreams); every answer is
below 500, every 4xx is in the caller's dialect and every request is logged (see tests.input.surface)."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings

from .bodies import Schema, anthropic_bodies, chat_bodies, responses_bodies, spoiled
from .surface import encode, surface

# Fixed examples (derandomize) so CI sees the same bodies every run; ~200 per dialect keeps each test to seconds.
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _run(path: str, bodies: Schema) -> Counter[int]:
    statuses: Counter[int] = Counter()
    with surface() as gw:

        @SETTINGS
        @given(spoiled(bodies))
        def check(body: dict[str, object]) -> None:
            statuses[gw.post(path, encode(body)).status_code] += 1

        check()
    return statuses


def _mixes_valid_and_refused(statuses: Counter[int]) -> bool:
    """The run was not vacuous: some bodies were served and some refused."""
    return statuses[200] > 20 and statuses[400] > 20


def test_chat_completions_bodies_never_get_a_5xx() -> None:
    assert _mixes_valid_and_refused(_run("/v1/chat/completions", chat_bodies))


def test_responses_bodies_never_get_a_5xx() -> None:
    assert _mixes_valid_and_refused(_run("/v1/responses", responses_bodies))


def test_anthropic_messages_bodies_never_get_a_5xx() -> None:
    assert _mixes_valid_and_refused(_run("/anthropic/v1/messages", anthropic_bodies))
