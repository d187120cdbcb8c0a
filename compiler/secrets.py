"""Spot literal secrets in a spec. A spec is committed to git, so it only ever names env vars or holds hashes."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from bifrostc.compiler.diagnostics import Diagnostic, Path, error

# Keys whose value is a credential by name; the spec never has such a field, so any use is a literal secret.
_SECRET_KEYS = frozenset(
    {"api_key", "apikey", "key", "secret", "token", "password", "access_key", "secret_access_key", "client_secret"}
)
# Headers that carry credentials; in a spec their value must come from an env var.
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization"})
_SECRET_VALUE = re.compile(
    r"^(sk-[A-Za-z0-9_-]{12,}|sk-ant-|gsk_[A-Za-z0-9]{12,}|xai-[A-Za-z0-9]{12,}|AIza[0-9A-Za-z_-]{20,}"
    r"|ghp_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|Bearer\s+\S{8,}|eyJ[A-Za-z0-9_-]{10,}\.)"
)
_HINT = "put the secret in an environment variable and name it instead, e.g. `api_key_env: OPENAI_API_KEY`"


def find_literal_secrets(data: Any) -> list[Diagnostic]:
    """Every place in the raw YAML data that holds what looks like a credential (never quoted back)."""
    return [dataclasses.replace(diag, quote_source=False) for diag in _walk(data, ())]


def _walk(data: Any, path: Path) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if isinstance(data, dict):
        for key, value in data.items():
            child = (*path, str(key))
            if isinstance(value, str) and _is_secret_field(path, str(key), value):
                found.append(error(child, f"'{key}' looks like a literal secret; secrets never go in the spec", _HINT))
            else:
                found.extend(_walk(value, child))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found.extend(_walk(item, (*path, index)))
    elif isinstance(data, str) and _SECRET_VALUE.match(data):
        found.append(error(path, "this value looks like a literal secret; secrets never go in the spec", _HINT))
    return found


def _is_secret_field(parent: Path, key: str, value: str) -> bool:
    if _SECRET_VALUE.match(value):
        return True
    # MCP env and header maps name env vars as values (TOKEN: FS_TOKEN_ENV), so their keys may say "token".
    is_env_map = len(parent) == 3 and parent[0] == "mcp_servers" and parent[2] in ("env", "headers")
    if key.lower() in _SECRET_KEYS and not is_env_map:
        return True
    # Static provider headers hold literal values; credential headers among them are secrets.
    is_static_headers = len(parent) == 3 and parent[0] == "providers" and parent[2] == "headers"
    return is_static_headers and key.lower() in _SECRET_HEADERS
