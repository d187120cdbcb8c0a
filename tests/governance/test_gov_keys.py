from __future__ import annotations

import pytest
from gov_helpers import make_gateway
from starlette.datastructures import Headers

from bifrostc.runtime.config import Budget, Customer, Gateway, RateLimit, Route, Target, Team, VirtualKey
from bifrostc.runtime.errors import AuthenticationFailed, PermissionDenied
from bifrostc.runtime.governance.keys import (
    KeyContext,
    KeyRing,
    authorize,
    hash_key,
    mcp_server_allowed,
    presented_credentials,
    tool_allowed,
)
from bifrostc.runtime.router import Router

ALICE = "sk-bfc-alice-secret"


def authorize_on(ctx: KeyContext | None, model: str, provider: str) -> None:
    """The grant rule for a one-route gateway serving `model` on `provider` (the wired tests cover the rest)."""
    route = Route(model, (Target(provider, "upstream"),))
    authorize(ctx, Router(Gateway(providers={}, routes={model: route})), model, route)


def ring(
    *keys: VirtualKey, require_key: bool = False, environ: dict[str, str] | None = None, **tables: object
) -> KeyRing:
    return KeyRing(make_gateway(*keys, require_key=require_key, **tables), environ or {})


def test_x_api_key_and_bearer_token_both_authenticate() -> None:
    keys = ring(VirtualKey("alice", sha256=hash_key(ALICE)))
    assert keys.authenticate({"x-api-key": ALICE}).key_name == "alice"
    assert keys.authenticate({"Authorization": f"Bearer {ALICE}"}).key_name == "alice"
    assert keys.authenticate(Headers({"X-Api-Key": ALICE})).key_name == "alice"


def test_a_placeholder_x_api_key_does_not_hide_a_valid_bearer_token() -> None:
    keys = ring(VirtualKey("alice", sha256=hash_key(ALICE)))
    assert keys.authenticate({"x-api-key": "dummy", "authorization": f"bearer {ALICE}"}).key_name == "alice"


def test_digest_may_carry_a_prefix_and_upper_case() -> None:
    keys = ring(VirtualKey("alice", sha256="sha256:" + hash_key(ALICE).upper()))
    assert keys.authenticate({"x-api-key": ALICE}).key_name == "alice"


def test_env_var_key_is_hashed_at_start_up_and_the_plain_value_not_kept() -> None:
    keys = ring(VirtualKey("bob", env="BOB_KEY"), environ={"BOB_KEY": "sk-bfc-bob"})
    assert keys.authenticate({"x-api-key": "sk-bfc-bob"}).key_name == "bob"
    assert "sk-bfc-bob" not in repr(vars(keys)) + repr(keys.contexts)


def test_env_var_key_without_value_is_disabled() -> None:
    keys = ring(VirtualKey("bob", env="BOB_KEY"), environ={})
    assert keys.contexts == []


def test_required_key_rejects_missing_and_unknown() -> None:
    keys = ring(VirtualKey("alice", sha256=hash_key(ALICE)), require_key=True)
    with pytest.raises(AuthenticationFailed):
        keys.authenticate({})
    with pytest.raises(AuthenticationFailed):
        keys.authenticate({"x-api-key": "sk-ant-something"})


def test_optional_key_lets_foreign_credentials_through_as_anonymous() -> None:
    keys = ring(VirtualKey("alice", sha256=hash_key(ALICE)))
    assert keys.authenticate({}) is None
    assert keys.authenticate({"x-api-key": "sk-ant-real-upstream-key"}) is None


def test_optional_key_still_rejects_an_unknown_gateway_looking_key() -> None:
    keys = ring(VirtualKey("alice", sha256=hash_key(ALICE)))
    with pytest.raises(AuthenticationFailed):
        keys.authenticate({"authorization": "Bearer sk-bfc-revoked"})


def test_scope_chain_runs_key_team_customer() -> None:
    keys = ring(
        VirtualKey("alice", sha256=hash_key(ALICE), team="eng", budget=Budget(5)),
        teams={"eng": Team("eng", customer="acme", rate_limit=RateLimit(requests_per_minute=10))},
        customers={"acme": Customer("acme", budget=Budget(100, "1M"))},
    )
    ctx = keys.authenticate({"x-api-key": ALICE})
    assert [s.id for s in ctx.scopes] == ["key:alice", "team:eng", "customer:acme"]
    assert (ctx.team, ctx.customer) == ("eng", "acme")
    assert ctx.scopes[0].budget == Budget(5)
    assert ctx.scopes[1].rate_limit == RateLimit(requests_per_minute=10)
    assert ctx.scopes[2].budget == Budget(100, "1M")


def test_allow_lists_are_globs() -> None:
    keys = ring(
        VirtualKey(
            "alice",
            sha256=hash_key(ALICE),
            allowed_models=("claude-*", "gpt-5-mini"),
            allowed_providers=("anthropic", "bedrock*"),
            allowed_mcp_tools=("github__*",),
            cache=False,
        )
    )
    ctx = keys.authenticate({"x-api-key": ALICE})
    authorize_on(ctx, "claude-sonnet-4-5", "anthropic")
    authorize_on(ctx, "gpt-5-mini", "bedrock-eu")
    with pytest.raises(PermissionDenied):
        authorize_on(ctx, "gpt-5", "anthropic")
    with pytest.raises(PermissionDenied):
        authorize_on(ctx, "claude-haiku-4-5", "openai")
    assert tool_allowed(ctx, "github__create_issue")
    assert not tool_allowed(ctx, "fs__write")
    assert ctx.cache is False


def test_empty_allow_lists_and_anonymous_allow_everything() -> None:
    ctx = ring(VirtualKey("alice", sha256=hash_key(ALICE))).authenticate({"x-api-key": ALICE})
    authorize_on(ctx, "anything", "any-provider")
    authorize_on(None, "anything", "any-provider")
    assert tool_allowed(ctx, "x") and tool_allowed(None, "x")


def test_presented_credentials_ignores_non_bearer_schemes() -> None:
    assert presented_credentials({"authorization": "Basic abc"}) == []
    assert presented_credentials({"x-api-key": "  k  "}) == ["k"]


def test_mcp_prompts_and_resources_follow_the_servers_the_tool_grants_reach() -> None:
    ctx = KeyContext("alice", allowed_mcp_tools=("github__create_*", "fs__read"))
    assert mcp_server_allowed(ctx, "github") and mcp_server_allowed(ctx, "fs")
    assert not mcp_server_allowed(ctx, "git")
    assert mcp_server_allowed(KeyContext("ops"), "anything") and mcp_server_allowed(None, "anything")
