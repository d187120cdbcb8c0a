"""The client's own credentials through the fully wired gateway (issue 19), with the official SDKs.

A team on Claude seats: the `seat` provider (`auth: passthrough`) forwards each person's OAuth token to a fake
Anthropic that accepts only the exact Bearer token with the oauth beta; the `team-openai` provider (`auth:
configured`) serves the haiku tier with the team's own key. The virtual key travels in x-bifrostc-key.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from bifrostc.runtime.observability.tracing import genai_attributes
from tests.credentials.fakes import (
    BUSY,
    OAUTH_BETA,
    Seen,
    everything_seen,
    keyed_gemini,
    keyed_openai,
    subscription_anthropic,
)
from tests.integration.wired import DOLLAR_PER_TOKEN, WAIT_S, Wired, budget_row, compile_gateway, wired_server

ALICE, BOB = "sk-ant-oat01-alice-token-0123456789", "sk-ant-oat01-bob-token-9876543210"
TEAM_KEY = "sk-bfc-team-0123456789abcdef"
TEAM_OPENAI = "sk-team-openai-0123456789"
ALICE_OPENAI = "sk-proj-alice-own-openai-key-0123"
ENV = {"TEAM_KEY": TEAM_KEY, "TEAM_OPENAI_KEY": TEAM_OPENAI, "ADMIN_KEY": "admin-0123456789abcdef"}
CAROL = "sk-ant-oat01-carol-token-5555555555"
SEATS = {ALICE: "alice", BOB: "bob", CAROL: BUSY}


def spec(db: Path, anthropic_url: str, openai_url: str, **overrides: Any) -> dict[str, Any]:
    seat: dict[str, Any] = {"type": "anthropic", "base_url": anthropic_url, "auth": "passthrough"}
    seat.update(overrides.pop("seat", {}))
    extra_providers, extra_models = overrides.pop("extra_providers", {}), overrides.pop("extra_models", {})
    return {
        "version": 1,
        "server": {"require_key": overrides.pop("require_key", True), "admin_key_env": "ADMIN_KEY"},
        "providers": {
            "seat": seat,
            "team-openai": {"type": "openai", "base_url": f"{openai_url}/v1", "api_key_env": "TEAM_OPENAI_KEY"},
            "their-openai": {"type": "openai", "base_url": f"{openai_url}/v1", "auth": "passthrough"},
            **extra_providers,
        },
        "models": {
            "claude-seat": {
                "target": "seat/claude-sonnet-4-5",
                "fallbacks": ["quick"],
                "pricing": dict(DOLLAR_PER_TOKEN),
            },
            "quick": {"target": "team-openai/gpt-5-mini", "pricing": dict(DOLLAR_PER_TOKEN)},
            "theirs": {"target": "their-openai/gpt-5"},
            "claude-seat-only": {"target": "seat/claude-sonnet-4-5", "pricing": dict(DOLLAR_PER_TOKEN)},
            **extra_models,
        },
        "claude_code": {
            "sonnet": "claude-seat",
            "haiku": "quick",
            "key_env": "TEAM_KEY",
            "credentials": "subscription",
        },
        "virtual_keys": [{"name": "team", "key_env": "TEAM_KEY", "budget": {"max_usd": 10_000_000}}],
        "cache": {"mode": "exact"},
        "observability": {"log_store": "sqlite", "sqlite_path": str(db), "log_bodies": True},
        **overrides,
    }


@asynccontextmanager
async def team_gateway(live_server: Any, tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Wired, Seen, Seen]]:
    seen_anthropic, seen_openai = Seen(), Seen()
    async with (
        live_server(subscription_anthropic(SEATS, seen_anthropic)) as anthropic_url,
        live_server(keyed_openai(TEAM_OPENAI, seen_openai, ALICE_OPENAI)) as openai_url,
    ):
        gateway = compile_gateway(tmp_path, spec(tmp_path / "log.db", anthropic_url, openai_url, **overrides), ENV)
        async with wired_server(gateway, ENV) as wired:
            try:
                yield wired, seen_anthropic, seen_openai
            finally:
                while _CLIENTS:
                    await _CLIENTS.pop().close()


_CLIENTS: list[anthropic.AsyncAnthropic | openai.AsyncOpenAI] = []  # closed when their gateway stops


def seat_client(wired: Wired, token: str, *, gateway_key: str | None = TEAM_KEY) -> anthropic.AsyncAnthropic:
    """What Claude Code sends after /login: Bearer <OAuth token>, the oauth beta, the virtual key apart."""
    headers = {"anthropic-beta": OAUTH_BETA}
    if gateway_key:
        headers["x-bifrostc-key"] = gateway_key
    client = anthropic.AsyncAnthropic(
        base_url=f"{wired.url}/anthropic",
        api_key=None,
        auth_token=token,
        default_headers=headers,
        max_retries=0,
        timeout=WAIT_S,
    )
    _CLIENTS.append(client)
    return client


def ask(text: str) -> dict[str, Any]:
    return {"max_tokens": 64, "messages": [{"role": "user", "content": text}]}


@pytest.fixture(autouse=True)
def _no_sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


async def test_the_token_arrives_unchanged_and_alone(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path) as (wired, seen, _):
        client = seat_client(wired, ALICE)
        reply = await client.messages.create(model="sonnet", **ask("hello"))
        async with client.messages.stream(model="sonnet", **ask("hello, streamed")) as stream:
            streamed = await stream.get_final_message()
    assert "for alice" in reply.content[0].text and "for alice" in streamed.content[0].text  # type: ignore[union-attr]
    assert len(seen.headers) == 2
    for headers in seen.headers:
        assert headers["authorization"] == f"Bearer {ALICE}"
        assert "x-api-key" not in headers and "x-bifrostc-key" not in headers
        assert OAUTH_BETA in headers["anthropic-beta"]
    assert TEAM_KEY not in everything_seen(seen)


async def test_a_missing_gateway_key_is_refused_and_the_token_is_not_taken_for_one(
    live_server: Any, tmp_path: Path
) -> None:
    async with team_gateway(live_server, tmp_path) as (wired, seen, _):
        with pytest.raises(anthropic.AuthenticationError):
            await seat_client(wired, ALICE, gateway_key=None).messages.create(model="sonnet", **ask("hi"))
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await seat_client(wired, ALICE, gateway_key="sk-bfc-wrong").messages.create(model="sonnet", **ask("hi"))
    assert "x-bifrostc-key" in str(refused.value)
    assert seen.headers == []


async def test_two_people_never_share_a_cache_entry(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path) as (wired, seen, _):
        alice, bob = seat_client(wired, ALICE), seat_client(wired, BOB)
        first = await alice.messages.with_raw_response.create(model="sonnet", **ask("same question"))
        again = await alice.messages.with_raw_response.create(model="sonnet", **ask("same question"))
        bobs = await bob.messages.with_raw_response.create(model="sonnet", **ask("same question"))
    assert again.headers.get("x-bifrostc-cache") == "hit"  # the cache works, per person
    assert (await first.parse()).content[0].text == (await again.parse()).content[0].text  # type: ignore[union-attr]
    assert bobs.headers.get("x-bifrostc-cache") is None
    assert "for bob" in (await bobs.parse()).content[0].text  # type: ignore[union-attr]
    assert [h["authorization"] for h in seen.headers] == [f"Bearer {ALICE}", f"Bearer {BOB}"]


async def test_passthrough_routes_can_be_left_out_of_the_cache(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path, cache={"mode": "exact", "passthrough": "off"}) as (wired, seen, _):
        alice = seat_client(wired, ALICE)
        for _ in range(2):
            reply = await alice.messages.with_raw_response.create(model="sonnet", **ask("same question"))
            assert reply.headers.get("x-bifrostc-cache") is None
    assert len(seen.headers) == 2


async def test_each_credential_goes_only_where_it_belongs(live_server: Any, tmp_path: Path) -> None:
    """One Claude Code session: sonnet on the person's seat, haiku on the team's OpenAI key; an OpenAI client's
    own key stays home too, and an Anthropic token is never offered to an OpenAI provider that passes through."""
    async with team_gateway(live_server, tmp_path) as (wired, seen_anthropic, seen_openai):
        alice = seat_client(wired, ALICE)
        sonnet = await alice.messages.create(model="sonnet", **ask("main turn"))
        haiku = await alice.messages.create(model="haiku", **ask("a title, please"))
        person_openai = openai.AsyncOpenAI(
            base_url=f"{wired.url}/v1",
            api_key=ALICE_OPENAI,
            default_headers={"x-bifrostc-key": TEAM_KEY},
            max_retries=0,
        )
        _CLIENTS.append(person_openai)
        chat = await person_openai.chat.completions.create(model="quick", messages=[{"role": "user", "content": "x"}])
        own = await person_openai.chat.completions.create(model="theirs", messages=[{"role": "user", "content": "y"}])
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await alice.messages.create(model="theirs", **ask("to the wrong family"))
    assert "for alice" in sonnet.content[0].text  # type: ignore[union-attr]
    assert haiku.content[0].text == "quick answer" == chat.choices[0].message.content  # type: ignore[union-attr]
    assert own.choices[0].message.content == "quick answer"  # her own OpenAI key, on the passthrough provider
    assert "never sent to another family" in str(refused.value)
    assert [h["authorization"] for h in seen_anthropic.headers] == [f"Bearer {ALICE}"]
    openai_auth = [h["authorization"] for h in seen_openai.headers]
    assert openai_auth == [f"Bearer {TEAM_OPENAI}", f"Bearer {TEAM_OPENAI}", f"Bearer {ALICE_OPENAI}"]
    assert TEAM_OPENAI not in everything_seen(seen_anthropic) and ALICE_OPENAI not in everything_seen(seen_anthropic)
    assert ALICE not in everything_seen(seen_openai)


async def test_a_fallback_to_another_family_uses_that_providers_own_key(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path) as (wired, seen_anthropic, seen_openai):
        reply = await seat_client(wired, CAROL).messages.with_raw_response.create(model="sonnet", **ask("hi"))
    assert reply.headers["x-bifrostc-fallback"] == "quick" and (await reply.parse()).content[0].text == "quick answer"  # type: ignore[union-attr]
    assert {h["authorization"] for h in seen_anthropic.headers} == {f"Bearer {CAROL}"}
    assert [h["authorization"] for h in seen_openai.headers] == [f"Bearer {TEAM_OPENAI}"]
    assert CAROL not in everything_seen(seen_openai)


async def test_a_refused_token_is_the_clients_own_401_and_trips_no_breaker(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path) as (wired, seen_anthropic, seen_openai):
        stale = seat_client(wired, "sk-ant-oat01-expired-token")
        for _ in range(8):  # past the breaker's threshold (5)
            with pytest.raises(anthropic.AuthenticationError) as refused:
                await stale.messages.create(model="sonnet", **ask("hi"))
            assert refused.value.status_code == 401
            error = {"type": "authentication_error", "message": "Invalid bearer token"}
            assert refused.value.body == {"type": "error", "error": error}  # Anthropic's own envelope
            assert refused.value.response.headers["x-should-retry"] == "false"
        reply = await seat_client(wired, BOB).messages.create(model="sonnet", **ask("hi"))
    assert "for bob" in reply.content[0].text  # type: ignore[union-attr]
    assert seen_openai.headers == []  # a refused credential is not a reason to fall back to the team's key
    assert len(seen_anthropic.headers) == 9


async def test_without_a_virtual_key_each_person_is_a_salted_hash_label(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path, require_key=False) as (wired, _, _):
        for token, times in ((ALICE, 2), (BOB, 1)):
            for turn in range(times):
                await seat_client(wired, token, gateway_key=None).messages.create(model="sonnet", **ask(f"q{turn}"))
        rows = await wired.logs(3)
        spend = await wired.http.get(f"{wired.url}/api/spend", headers={"authorization": f"Bearer {ENV['ADMIN_KEY']}"})
    labels = [row["virtual_key"] for row in rows]
    assert all(label.startswith("client:") and len(label) == len("client:") + 12 for label in labels)
    assert len(set(labels)) == 2 and sorted(labels.count(label) for label in set(labels)) == [1, 2]
    assert {row["billed_to"] for row in rows} == {"client"}
    assert all(row["input_tokens"] == 12 and row["output_tokens"] == 3 for row in rows)
    assert ALICE not in spend.text and BOB not in spend.text


@pytest.mark.parametrize("counted", [False, True])
async def test_spend_on_the_clients_account_counts_towards_budgets_only_when_asked(
    live_server: Any, tmp_path: Path, counted: bool
) -> None:
    overrides = {"seat": {"count_client_spend": True}} if counted else {}
    async with team_gateway(live_server, tmp_path, **overrides) as (wired, _, _):
        await seat_client(wired, ALICE).messages.create(model="sonnet", **ask("on my seat"))
        [row] = await wired.logs(1)
        after_seat = budget_row(await wired.spend(), "key", "team")["spent_usd"]
        await seat_client(wired, ALICE).messages.create(model="haiku", **ask("on the team's key"))
        await wired.logs(2)
        after_team = budget_row(await wired.spend(), "key", "team")["spent_usd"]
    assert row["virtual_key"] == "team" and row["billed_to"] == "client" and row["cost_usd"] == 3.0
    assert after_seat == (3.0 if counted else 0.0)
    assert after_team > after_seat  # the team's own key always counts


async def test_nothing_of_either_token_is_logged_stored_measured_or_built(
    live_server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with team_gateway(live_server, tmp_path) as (wired, _, _):
        for token in (ALICE, BOB):
            client = seat_client(wired, token)
            await client.messages.create(model="sonnet", **ask("hello"))
            async with client.messages.stream(model="haiku", **ask("hello")) as stream:
                await stream.get_final_message()
        with pytest.raises(anthropic.AuthenticationError):
            await seat_client(wired, "sk-ant-oat01-refused-token-55555").messages.create(model="sonnet", **ask("x"))
        await seat_client(wired, ALICE).messages.count_tokens(model="sonnet", messages=ask("x")["messages"])
        await wired.logs(5)
        admin = {"authorization": f"Bearer {ENV['ADMIN_KEY']}"}
        metrics = (await wired.http.get(f"{wired.url}/metrics", headers=admin)).text
        api = [(await wired.http.get(f"{wired.url}{path}", headers=admin)).text for path in ("/api/logs", "/api/spend")]
        spans = orjson.dumps([genai_attributes(record) for record in wired.waiter.records]).decode()
    out = tmp_path / "out"
    built = subprocess.run(
        [sys.executable, "-m", "bifrostc.compiler.cli", "build", str(tmp_path / "gateway.yaml"), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    stored = (tmp_path / "log.db").read_bytes() + b"".join(p.read_bytes() for p in out.iterdir() if p.is_file())
    texts = {"logs": caplog.text, "metrics": metrics, "api": "".join(api), "stored": stored.decode("utf-8", "replace")}
    texts["trace attributes"] = spans
    assert "bifrostc_requests_total" in metrics and len(caplog.records) > 0
    for token in (ALICE, BOB, "sk-ant-oat01-refused-token-55555"):
        for where, text in texts.items():
            assert token not in text and token[-12:] not in text, (token, where)


async def test_a_small_budget_does_not_stop_work_on_the_persons_own_seat(live_server: Any, tmp_path: Path) -> None:
    """Admission holds nothing for a request only the client's own account pays for; the team's key is held."""
    keys = [{"name": "team", "key_env": "TEAM_KEY", "budget": {"max_usd": 1}}]
    async with team_gateway(live_server, tmp_path, virtual_keys=keys) as (wired, seen_anthropic, _):
        alice = seat_client(wired, ALICE)
        reply = await alice.messages.create(model="claude-seat-only", **ask("on my seat"))
        with pytest.raises(anthropic.RateLimitError) as refused:
            await alice.messages.create(model="haiku", **ask("on the team's key"))
    assert "for alice" in reply.content[0].text  # type: ignore[union-attr]
    assert "budget of key 'team'" in str(refused.value)
    assert len(seen_anthropic.headers) == 1


async def test_a_routing_rule_never_carries_a_credential_to_another_family(live_server: Any, tmp_path: Path) -> None:
    rules = [
        {"name": "to-theirs", "when": 'headers["x-route"] == "theirs"', "route": "theirs"},
        {"name": "to-team", "when": 'headers["x-route"] == "team"', "route": "quick"},
    ]
    async with team_gateway(live_server, tmp_path, rules=rules) as (wired, seen_anthropic, seen_openai):
        alice = seat_client(wired, ALICE)
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await alice.messages.create(model="sonnet", extra_headers={"x-route": "theirs"}, **ask("x"))
        team = await alice.messages.with_raw_response.create(
            model="sonnet", extra_headers={"x-route": "team"}, **ask("y")
        )
    assert "never sent to another family" in str(refused.value)
    assert team.headers["x-bifrostc-rule"] == "to-team" and (await team.parse()).content[0].text == "quick answer"  # type: ignore[union-attr]
    assert [h["authorization"] for h in seen_openai.headers] == [f"Bearer {TEAM_OPENAI}"]
    assert seen_anthropic.headers == [] and ALICE not in everything_seen(seen_openai)


async def test_a_gemini_clients_own_key_goes_to_gemini_only(live_server: Any, tmp_path: Path) -> None:
    from google import genai
    from google.genai import types

    seen_gemini = Seen()
    own = "AIzaSy-alice-own-gemini-key-000000000000"
    async with live_server(keyed_gemini({own}, seen_gemini)) as gemini_url:
        providers = {"their-gemini": {"type": "gemini", "base_url": f"{gemini_url}/v1beta", "auth": "passthrough"}}
        models = {"flash": {"target": "their-gemini/gemini-2.5-flash"}}
        async with team_gateway(live_server, tmp_path, extra_providers=providers, extra_models=models) as (
            wired,
            seen_anthropic,
            seen_openai,
        ):
            options = types.HttpOptions(
                base_url=f"{wired.url}/genai",
                headers={"x-bifrostc-key": TEAM_KEY},
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            client = genai.Client(api_key=own, http_options=options)
            reply = await client.aio.models.generate_content(model="flash", contents="hi")
            [row] = await wired.logs(1)
    assert reply.text == "gemini answer"
    assert [h["x-goog-api-key"] for h in seen_gemini.headers] == [own]
    assert TEAM_KEY not in everything_seen(seen_gemini) and seen_anthropic.headers == seen_openai.headers == []
    assert row["billed_to"] == "client" and row["virtual_key"] == "team"


async def test_the_model_lists_take_the_gateway_key_beside_the_seat_token(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path) as (wired, seen, _):
        listed = [m.id async for m in seat_client(wired, ALICE).models.list()]
        refused = await wired.http.get(f"{wired.url}/anthropic/v1/models", headers={"authorization": f"Bearer {ALICE}"})
    assert "sonnet" in listed or "claude-seat" in listed
    assert refused.status_code == 401 and seen.headers == []


async def test_the_litellm_header_form_is_accepted_for_the_gateway_key(live_server: Any, tmp_path: Path) -> None:
    async with team_gateway(live_server, tmp_path) as (wired, seen, _):
        client = seat_client(wired, ALICE, gateway_key=None).with_options(
            default_headers={"anthropic-beta": OAUTH_BETA, "x-litellm-api-key": f"Bearer {TEAM_KEY}"}
        )
        reply = await client.messages.create(model="sonnet", **ask("hi"))
        [row] = await wired.logs(1)
    assert "for alice" in reply.content[0].text and row["virtual_key"] == "team"  # type: ignore[union-attr]
    assert "x-litellm-api-key" not in seen.headers[0] and seen.headers[0]["authorization"] == f"Bearer {ALICE}"


async def test_stored_responses_of_people_without_a_virtual_key_stay_their_own(
    live_server: Any, tmp_path: Path
) -> None:
    """Without a virtual key the stored Responses belong to the salted label of the person's own credential:
    another person (another key of their own) cannot read or continue it, the owner gets the response."""
    async with team_gateway(live_server, tmp_path, require_key=False) as (wired, _, _):

        def own(key: str) -> openai.AsyncOpenAI:
            client = openai.AsyncOpenAI(base_url=f"{wired.url}/v1", api_key=key, max_retries=0, timeout=WAIT_S)
            _CLIENTS.append(client)
            return client

        alice, bob = own(ALICE_OPENAI), own(TEAM_OPENAI)
        stored = await alice.responses.create(model="theirs", input="remember this")
        with pytest.raises(openai.NotFoundError):
            await bob.responses.retrieve(stored.id)
        with pytest.raises(openai.BadRequestError, match="not found"):  # OpenAI's previous_response_not_found
            await bob.responses.create(model="theirs", input="and?", previous_response_id=stored.id)
        again = await alice.responses.retrieve(stored.id)
    assert again.id == stored.id and again.output_text == "quick answer"
