"""JSON Schema -> the OpenAPI-3 subset Gemini accepts in ``functionDeclarations[].parameters``.

Gemini rejects unknown keywords ($schema, additionalProperties, $ref...) with a 400, and coding agents send
full JSON Schema. We keep an allowlist, inline local $refs, and turn ``type: [x, "null"]`` into ``nullable``.
"""

from __future__ import annotations

from typing import Any

_KEPT_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "default",
        "items",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "required",
        "propertyOrdering",
        "example",
    }
)
_MAX_REF_DEPTH = 8


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``schema`` Gemini accepts; the input is not modified."""
    definitions = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    cleaned: dict[str, Any] = _clean(schema, definitions, 0)
    return cleaned


def _clean(node: Any, definitions: dict[str, Any], depth: int) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _resolve_ref(node["$ref"], definitions, depth)
    out: dict[str, Any] = {key: value for key, value in node.items() if key in _KEPT_KEYS}
    if "const" in node:
        out["enum"] = [node["const"]]
    _normalise_type(out)
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: _clean(sub, definitions, depth) for name, sub in node["properties"].items()}
    if "items" in node:
        out["items"] = _clean(node["items"], definitions, depth)
    union = node.get("anyOf") or node.get("oneOf")
    if isinstance(union, list):
        out["anyOf"] = [_clean(sub, definitions, depth) for sub in union]
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        out.update(_clean(node["allOf"][0], definitions, depth))
    if isinstance(out.get("enum"), list):
        if out.get("type", "string") == "string":
            out["enum"] = [str(value) for value in out["enum"]]
            out["type"] = "string"
        else:
            del out["enum"]  # Gemini accepts enum only on strings
    if isinstance(out.get("required"), list) and "properties" in out:
        out["required"] = [name for name in out["required"] if name in out["properties"]]
    return out


def _normalise_type(out: dict[str, Any]) -> None:
    kind = out.get("type")
    if isinstance(kind, list):
        non_null = [item for item in kind if item != "null"]
        if len(non_null) < len(kind):
            out["nullable"] = True
        out["type"] = non_null[0] if non_null else "string"


def _resolve_ref(ref: str, definitions: dict[str, Any], depth: int) -> dict[str, Any]:
    name = ref.rsplit("/", 1)[-1]
    target = definitions.get(name)
    if target is None or depth >= _MAX_REF_DEPTH:
        return {"type": "object"}  # unresolvable or recursive: accept any object rather than fail the call
    cleaned: dict[str, Any] = _clean(target, definitions, depth + 1)
    return cleaned
