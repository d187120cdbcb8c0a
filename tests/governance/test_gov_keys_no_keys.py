"""With no virtual keys configured nothing is hashed per request, and the anonymous rules still hold."""

from __future__ import annotations

import pytest
from gov_helpers import make_gateway
from starlette.datastructures import Headers

from bifrostc.runtime.errors import AuthenticationFailed
from bifrostc.runtime.governance import keys
from bifrostc.runtime.governance.keys import KeyRing, presented_credentials


def _no_hashing(value: str) -> str:
    raise AssertionError("hashed a credential although no virtual key is configured")


def test_no_keys_means_no_hashing_but_gateway_shaped_keys_are_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = KeyRing(make_gateway(), {})
    monkeypatch.setattr(keys, "hash_key", _no_hashing)
    assert ring.authenticate({"authorization": "Bearer sk-upstream-placeholder"}) is None
    assert ring.authenticate({}) is None
    with pytest.raises(AuthenticationFailed):
        ring.authenticate({"x-api-key": "sk-bfc-revoked"})


def test_no_keys_with_require_key_refuses_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = KeyRing(make_gateway(require_key=True), {})
    monkeypatch.setattr(keys, "hash_key", _no_hashing)
    with pytest.raises(AuthenticationFailed):
        ring.authenticate({"x-api-key": "anything"})


def test_credentials_are_found_whatever_the_header_case_and_mapping_type() -> None:
    assert presented_credentials(Headers({"X-API-KEY": "a", "AUTHORIZATION": "Bearer b"})) == ["a", "b"]
    assert presented_credentials({"X-Api-Key": "a", "Authorization": "Bearer b"}) == ["a", "b"]
    assert presented_credentials(Headers({"content-type": "application/json"})) == []
