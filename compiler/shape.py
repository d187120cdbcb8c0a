"""The per-field pass: pydantic validation of the raw YAML data, turned into diagnostics in our own words."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from bifrostc.compiler.diagnostics import Diagnostic, Path, did_you_mean, error, format_path
from bifrostc.compiler.spec import PROVIDER_FAMILIES, UNKNOWN_FAMILY, GatewaySpec
from bifrostc.runtime.providers import registry

_HINTS_BY_FIELD = {
    "weight": "weights are relative shares; use a positive number such as 1",
    "key_sha256": 'store the sha256 of the key, e.g. `printf %s "$KEY" | sha256sum`',
    "port": "use a TCP port between 1 and 65535",
}
_ENV_HINT = "write the NAME of an environment variable (letters, digits, _), not its value"


def check_shape(data: Any) -> tuple[GatewaySpec | None, list[Diagnostic]]:
    """Validate ``data`` against the spec models; return the spec (when valid) and every problem found."""
    if data is None:
        data = {}
    try:
        return GatewaySpec.model_validate(data), []
    except ValidationError as exc:
        return None, [_to_diagnostic(err, data) for err in exc.errors(include_url=False)]


def _to_diagnostic(err: Any, data: Any) -> Diagnostic:
    tagged: Path = tuple(err["loc"])
    loc = _untagged(tagged)
    kind, got = err["type"], err.get("input")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # the latter: options, which are dataclasses
        key = str(loc[-1])
        fields = _fields_at(tagged[:-1])
        message = f"unknown key '{key}' in {_where(loc[:-1])}.{did_you_mean(key, fields)}"
        hint = _option_owner(key) if len(loc) == 4 and loc[0] == "providers" and loc[2] == "options" else None
        return error(loc, message, hint, on_key=True)
    if kind == "missing":
        return error(loc[:-1], f"missing required key '{loc[-1]}'", on_key=True)
    if kind == "literal_error":
        allowed = [part.strip("'") for part in re.split(r", | or ", err["ctx"]["expected"])]
        choices = ", ".join(allowed)
        return error(loc, f"'{got}' is not one of: {choices}.{did_you_mean(str(got), allowed)}")
    if kind == "string_pattern_mismatch" and "A-Za-z_" in str(err["ctx"].get("pattern", "")):
        return error(loc, "is not an environment variable name", _ENV_HINT)
    message = _MESSAGES.get(kind, "{msg}").format(msg=err["msg"], **err.get("ctx", {}))
    hint = _HINTS_BY_FIELD.get(str(loc[-1])) if loc else None
    return error(loc, f"{message} (got {_show(got)})" if not isinstance(got, dict | list) else message, hint)


_MESSAGES = {
    "greater_than": "must be greater than {gt:g}",
    "greater_than_equal": "must be at least {ge:g}",
    "less_than_equal": "must be at most {le:g}",
    "dict_type": "must be a mapping of key: value",
    "list_type": "must be a list",
    "model_type": "must be a mapping of key: value",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_pattern_mismatch": "does not match the pattern {pattern}",
}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _where(path: Path) -> str:
    return format_path(path) if path else "the top level"


def _option_owner(key: str) -> str | None:
    """For an option of another provider family: which types take it (options are checked per type)."""
    owners = [kind.name for kind in registry.PROVIDERS.values() if key in _option_names(kind.options)]
    if not owners:
        return None
    shown = ", ".join(owners[:3]) + (", ..." if len(owners) > 3 else "")
    return f"'{key}' is an option of provider type{'s' if len(owners) > 1 else ''} {shown}"


def _option_names(options: type[object]) -> set[str]:
    return {field.name for field in dataclasses.fields(options)} if dataclasses.is_dataclass(options) else set()


def _untagged(loc: Path) -> Path:
    """The spec path of an error: pydantic puts the provider family's tag after ``providers.<name>``."""
    if len(loc) > 2 and loc[0] == "providers" and (loc[2] in PROVIDER_FAMILIES or loc[2] == UNKNOWN_FAMILY):
        return loc[:2] + loc[3:]
    return loc


def _fields_at(loc: Path) -> list[str]:
    """Field names of the spec model (or options dataclass) at a tagged ``loc``, for did-you-mean on unknown keys."""
    annotation: Any = GatewaySpec
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, str) and part in PROVIDER_FAMILIES:
            annotation = PROVIDER_FAMILIES[part]
        elif dataclasses.is_dataclass(annotation):
            return []  # options hold no nested mappings
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return [field.name for field in dataclasses.fields(annotation)]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation
