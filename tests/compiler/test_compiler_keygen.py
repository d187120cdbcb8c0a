"""`bifrostc keygen` prints a usable virtual key once and only its hash into the spec snippet."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from bifrostc.compiler.cli import main
from bifrostc.runtime.config import Gateway, VirtualKey
from bifrostc.runtime.governance.keys import VIRTUAL_KEY_PREFIX, KeyRing


def test_keygen_snippet_authenticates_the_printed_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "alice"]) == 0
    out, err = capsys.readouterr()
    value = err.strip().rsplit(" ", 1)[-1]
    assert value.startswith(VIRTUAL_KEY_PREFIX)
    assert value not in out
    entry = yaml.safe_load(out)["virtual_keys"][0]
    assert entry == {"name": "alice", "key_sha256": hashlib.sha256(value.encode()).hexdigest()}
    key = VirtualKey(name="alice", sha256=entry["key_sha256"])
    ring = KeyRing(Gateway(providers={}, routes={}, virtual_keys=(key,)))
    ctx = ring.authenticate({"authorization": f"Bearer {value}"})
    assert ctx is not None and ctx.key_name == "alice"
