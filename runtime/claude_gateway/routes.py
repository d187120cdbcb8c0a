"""The /claude-code routes, built once per served gateway when the spec has ``claude_code.sign_in``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.routing import BaseRoute, Route

from bifrostc.runtime.claude_gateway import device_page, endpoints, oauth, oidc_pages
from bifrostc.runtime.claude_gateway.oidc import OidcProvider
from bifrostc.runtime.claude_gateway.relay import TelemetryRelay
from bifrostc.runtime.claude_gateway.service import PREFIX, Endpoint, SignInService
from bifrostc.runtime.claude_gateway.store import SignInStore, signin_db_path
from bifrostc.runtime.claude_gateway.telemetry_pg import PostgresTelemetry
from bifrostc.runtime.claude_gateway.tokens import TokenSigner, signing_secret
from bifrostc.runtime.config import Gateway, Observability, SignIn
from bifrostc.runtime.governance.keys import KeyRing
from bifrostc.runtime.handlers import models


def sign_in_service(
    sign_in: SignIn, observability: Observability, keyring: Callable[[], KeyRing], environ: Mapping[str, str]
) -> SignInService:
    store = SignInStore(signin_db_path(observability.sqlite_path))
    signer = TokenSigner(signing_secret(sign_in.secret_env, environ), issuer="bifrostc")
    days = observability.retention_days
    relay = TelemetryRelay(observability.claude_code_telemetry, environ)
    keep = days * 86400.0 if days else None
    oidc = OidcProvider(sign_in.oidc, environ) if sign_in.oidc is not None else None
    dsn = environ.get(observability.postgres_dsn_env) if observability.postgres_dsn_env else None
    telemetry = PostgresTelemetry(dsn) if observability.log_store == "postgres" and dsn else None
    return SignInService(
        sign_in, store, signer, keyring, telemetry_keep_seconds=keep, relay=relay, oidc=oidc, telemetry=telemetry
    )


def claude_code_routes(service: SignInService) -> list[BaseRoute]:
    auth = oauth.build(service)
    show, submit = device_page.build(service)
    sso_start, sso_callback = oidc_pages.build(service)

    def bearer(handler: Endpoint) -> Endpoint:
        return endpoints.signed_in(service, handler)

    def as_anthropic(path: str) -> Endpoint:  # served exactly as /anthropic<path>, as the signed-in key
        return bearer(endpoints.anthropic_endpoint(f"/anthropic{path}"))

    # the gateway's list: authenticate (SignedInHooks) gives it the bearer's key, so it holds what the key may use
    listing = endpoints.anthropic_endpoint("/anthropic/v1/models")
    routes: list[BaseRoute] = [
        Route(f"{PREFIX}/.well-known/oauth-authorization-server", auth.metadata, methods=["GET"]),
        Route(f"{PREFIX}/oauth/device_authorization", auth.device_authorization, methods=["POST"]),
        Route(f"{PREFIX}/oauth/token", auth.token, methods=["POST"]),
        Route(f"{PREFIX}/oauth/revoke", auth.revoke, methods=["POST"]),
        Route(f"{PREFIX}/device", show, methods=["GET"]),
        Route(f"{PREFIX}/device", submit, methods=["POST"]),
        Route(f"{PREFIX}/oidc/start", sso_start, methods=["POST"]),
        Route(f"{PREFIX}/oidc/callback", sso_callback, methods=["GET"]),
        Route(f"{PREFIX}/v1/messages", as_anthropic("/v1/messages"), methods=["POST"]),
        Route(f"{PREFIX}/v1/messages/count_tokens", as_anthropic("/v1/messages/count_tokens"), methods=["POST"]),
        Route(f"{PREFIX}/v1/models", bearer(listing), methods=["GET"]),
        Route(f"{PREFIX}/v1/models/{{model_id:path}}", bearer(models.get_model), methods=["GET"]),
        Route(f"{PREFIX}/managed/settings", bearer(endpoints.managed_settings), methods=["GET"]),
        Route(f"{PREFIX}/api/oauth/usage", bearer(endpoints.usage), methods=["GET"]),
    ]
    routes += [
        Route(f"{PREFIX}/v1/{signal}", endpoints.telemetry(service, signal), methods=["POST"])
        for signal in ("metrics", "logs", "traces")
    ]
    return routes


def service_for(gateway: Gateway, keyring: Callable[[], KeyRing], environ: Mapping[str, str]) -> SignInService | None:
    """What assembly serves /claude-code with: nothing unless the spec turned sign-in on."""
    sign_in = gateway.claude_code.sign_in
    if sign_in is None:
        return None
    return sign_in_service(sign_in, gateway.observability, keyring, environ)
