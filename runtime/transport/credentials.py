"""The client's own credential (``auth: passthrough``): read once, forwarded only where it was meant to go.

A request that carries a credential other than a gateway key (Claude Code after ``/login`` sends
``Authorization: Bearer <OAuth token>``; a personal key comes as ``x-api-key``) keeps it as a `Credential`:
the headers that hold it, the family it belongs to (the client dialect it came in: an Anthropic client's token
is Anthropic's) and a salted, non-reversible label for attribution and cache scoping. `for_provider` is the one
rule for an attempt: a provider that takes the client's credential, of the same family, gets exactly those
headers (the registry names them per family, `ProviderType.credentials`); anyone else gets nothing. The
dispatcher puts the answer in `FORWARDED` for the attempt, and `HttpAdapter` sends it instead of a configured
key, for that provider only.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from bifrostc.runtime import config
from bifrostc.runtime.errors import AuthenticationFailed
from bifrostc.runtime.providers import registry

# Where a caller puts its gateway (virtual) key when its Authorization / x-api-key hold its own credential.
GATEWAY_KEY_HEADERS = ("x-bifrostc-key", "x-litellm-api-key")  # the second: what LiteLLM's BYOK docs use
GATEWAY_KEY_PREFIX = "sk-bfc-"  # every virtual key's prefix (governance.keys.VIRTUAL_KEY_PREFIX): never forwarded
SALT_ENV = "BIFROSTC_CREDENTIAL_SALT"
DEFAULT_SALT = "bifrostc-credential-label"
LABEL_PREFIX = "client:"

# The credential family of each client dialect that can carry one (dialect name -> registry wire family).
DIALECT_FAMILY = {"anthropic": "anthropic", "openai": "openai", "responses": "openai", "gemini": "gemini"}
_CANDIDATES = tuple(
    dict.fromkeys(h for family in registry.PROVIDERS.values() for h in family.credentials)
)  # authorization, x-api-key, x-goog-api-key

# Upstream statuses that answer for the client's own credential (refused, or its own rate limit): relayed as they
# are, never retried elsewhere, never counted against the provider for everyone else.
THE_CLIENTS_OWN = frozenset({401, 403, 429})

# (provider name, headers) for the attempt in flight in this task; set and reset by the dispatcher.
FORWARDED: ContextVar[tuple[str, Mapping[str, str]] | None] = ContextVar("bifrostc_forwarded", default=None)


class NoClientCredential(AuthenticationFailed):
    """A provider with ``auth: passthrough`` and no credential of its family in the request: a 401 (Claude Code
    then offers /login); a fallback to a provider that can serve is still tried."""

    def __init__(self, provider: str, credential: Credential | None) -> None:
        if credential is None:
            words = "this request carries none"
        else:
            words = f"this request carries a {credential.family} credential, which is never sent to another family"
        super().__init__(f"provider {provider!r} takes the caller's own credential (auth: passthrough) and {words}")


@dataclass(frozen=True, slots=True)
class Credential:
    family: str
    headers: tuple[tuple[str, str], ...]  # lower-case name, value exactly as the client sent it
    label: str  # "client:<12 hex>": sha256 of salt + values; stable, not reversible


def gateway_key(headers: Mapping[str, str]) -> str | None:
    """The gateway key sent beside the client's own credential (``x-bifrostc-key``; ``Bearer `` optional)."""
    for name in GATEWAY_KEY_HEADERS:
        value = headers.get(name)
        if value and value.strip():
            scheme, _, token = value.strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else value.strip()
    return None


def of_request(salt: str | None, headers: Mapping[str, str], dialect: str) -> Credential | None:
    """The credential a client request carries, when the gateway passes any through (``salt`` is set then)."""
    return None if salt is None else from_client(headers, dialect, salt)


def _bare(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else value.strip()


def label_of(values: tuple[str, ...], salt: str) -> str:
    digest = hashlib.sha256(("\0".join((salt, *values))).encode("utf-8")).hexdigest()
    return LABEL_PREFIX + digest[:12]


def from_client(headers: Mapping[str, str], dialect: str, salt: str) -> Credential | None:
    """The client's own credential, or None (none sent, or only gateway keys: those are never forwarded).

    ``is_gateway_key`` (a ``str -> bool``) tells a value that is a virtual key presented the old way."""
    family = DIALECT_FAMILY.get(dialect)
    if family is None:
        return None
    found: list[tuple[str, str]] = []
    for name in _CANDIDATES:
        value = headers.get(name)
        if not value or not value.strip():
            continue
        bare = _bare(value)
        if not bare or bare.startswith(GATEWAY_KEY_PREFIX):
            continue
        found.append((name, value))
    if not found:
        return None
    return Credential(family, tuple(found), label_of(tuple(v for _, v in found), salt))


def without(credential: Credential | None, is_gateway_key: Callable[[str], bool]) -> Credential | None:
    """The credential minus the values that are gateway keys (a virtual key sent in Authorization)."""
    if credential is None:
        return None
    kept = tuple((n, v) for n, v in credential.headers if not is_gateway_key(_bare(v)))
    if kept == credential.headers:
        return credential
    return Credential(credential.family, kept, credential.label) if kept else None


def passes_through(provider: config.Provider) -> bool:
    return provider.auth != "configured"


def for_provider(provider: config.Provider, credential: Credential | None) -> dict[str, str] | None:
    """The client's credential headers this provider gets, or None: it is configured, the client sent none,
    or the credential belongs to another family (an Anthropic OAuth token never reaches OpenAI)."""
    if credential is None or not passes_through(provider):
        return None
    kind = registry.PROVIDERS.get(provider.type)
    if kind is None or kind.credential_family != credential.family:
        return None
    forwarded = {name: value for name, value in credential.headers if name in kind.credentials}
    return forwarded or None


def current(provider: str) -> Mapping[str, str] | None:
    """The forwarded credential of the attempt in flight, when it is this provider's."""
    forwarded = FORWARDED.get()
    return forwarded[1] if forwarded is not None and forwarded[0] == provider else None


def billed_to_client_only(
    gateway: config.Gateway, routes: Iterable[config.Route], credential: Credential | None
) -> bool:
    """Whether every target of these routes would serve on the client's own credential, spend not counted
    (so a budget admission has nothing to hold for the request)."""
    for route in routes:
        for target in route.targets:
            provider = gateway.providers.get(target.provider)
            if provider is None or provider.count_client_spend or for_provider(provider, credential) is None:
                return False
    return credential is not None


@contextlib.contextmanager
def sending(provider: str, forwarded: Mapping[str, str] | None) -> Iterator[None]:
    """Within the block, `HttpAdapter` sends ``forwarded`` (when given) to ``provider`` instead of its key."""
    token = FORWARDED.set((provider, forwarded) if forwarded else None)
    try:
        yield
    finally:
        FORWARDED.reset(token)


def any_passthrough(gateway: config.Gateway) -> bool:
    return any(passes_through(p) for p in gateway.providers.values())
