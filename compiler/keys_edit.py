"""Text edits of a spec's ``virtual_keys`` that keep everything else byte for byte (comments, layout, quoting).

PyYAML's node marks say where each key entry and its ``key_sha256`` are; an edit replaces only those bytes:
``rotate`` swaps the hash, ``revoke`` removes the entry's lines (or its flow item), ``add`` appends an entry in
the style of the ones around it (a new ``virtual_keys:`` at the end of the file when there is none).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import yaml


class KeyEditError(Exception):
    """The edit cannot be made (no such key, a key read from the environment, a spec that is not a mapping)."""


def new_key() -> tuple[str, str]:
    """A fresh virtual key and its sha256 (the same form as ``bifrostc keygen``)."""
    value = "sk-bfc-" + secrets.token_urlsafe(32)
    return value, hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Keys:
    key: yaml.ScalarNode | None  # the `virtual_keys` key, None when the spec has none
    seq: yaml.Node | None  # its value: a sequence, or a null scalar
    items: list[yaml.MappingNode]


def _field(item: yaml.MappingNode, name: str) -> yaml.Node | None:
    return next((v for k, v in item.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)


def _keys(text: str) -> _Keys:
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        raise KeyEditError("the spec is not a mapping")
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "virtual_keys":
            items = value.value if isinstance(value, yaml.SequenceNode) else []
            return _Keys(key, value, [i for i in items if isinstance(i, yaml.MappingNode)])
    return _Keys(None, None, [])


def _find(keys: _Keys, name: str) -> yaml.MappingNode:
    for item in keys.items:
        found = _field(item, "name")
        if isinstance(found, yaml.ScalarNode) and found.value == name:
            return item
    raise KeyEditError(f"no virtual key named {name!r}")


def _last_index(node: yaml.Node) -> int:
    """Where the node's last character ends (block collections' own end marks run on into the next line)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_index(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_index(node.value[-1])
    return int(node.end_mark.index)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def rotate(text: str, name: str, digest: str) -> str:
    item = _find(_keys(text), name)
    node = _field(item, "key_sha256")
    if node is None:
        env = _field(item, "key_env")
        where = f" from ${env.value}" if isinstance(env, yaml.ScalarNode) else ""
        raise KeyEditError(f"virtual key {name!r} reads its key{where}: put a new value there, or revoke and add it")
    start, end = node.start_mark.index, node.end_mark.index
    quote = text[start] if text[start] in "'\"" else ""
    return text[:start] + f"{quote}{digest}{quote}" + text[end:]


def revoke(text: str, name: str) -> str:
    keys = _keys(text)
    item = _find(keys, name)
    assert keys.key is not None and isinstance(keys.seq, yaml.SequenceNode)  # _find found an entry in it
    if len(keys.items) == 1:  # an empty `virtual_keys:` would be null: leave an empty list
        end = _line_end(text, _last_index(keys.seq)) if not keys.seq.flow_style else keys.seq.end_mark.index
        return text[: keys.key.end_mark.index] + ": []" + ("\n" if not keys.seq.flow_style else "") + text[end:]
    if keys.seq.flow_style:
        start, end = item.start_mark.index, item.end_mark.index
        after = text[end:].lstrip(" \t\n")
        if after.startswith(","):  # drop the item and the comma after it
            end = len(text) - len(after) + 1
            while end < len(text) and text[end] in " \t\n":
                end += 1
        else:  # the last item: drop the comma before it
            start = text.rfind(",", 0, start)
        return text[:start] + text[end:]
    return text[: _line_start(text, item.start_mark.index)] + text[_line_end(text, _last_index(item)) :]


def add(text: str, name: str, digest: str, team: str | None = None) -> str:
    keys = _keys(text)
    if any(isinstance(n := _field(i, "name"), yaml.ScalarNode) and n.value == name for i in keys.items):
        raise KeyEditError(f"a virtual key named {name!r} exists; rotate it instead")
    fields = {"name": name, "key_sha256": digest, **({"team": team} if team else {})}
    flow = "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in fields.items()) + "}"
    if keys.key is None or keys.seq is None or not isinstance(keys.seq, yaml.SequenceNode):
        body = f"virtual_keys:\n  - {flow}\n"
        if keys.key is not None:  # `virtual_keys:` (null) or `virtual_keys: ~`: that line becomes the list
            end = _line_end(text, keys.key.end_mark.index)
            return text[: _line_start(text, keys.key.start_mark.index)] + body + text[end:]
        return text + ("" if text.endswith("\n") or not text else "\n") + body
    if keys.seq.flow_style:
        close = keys.seq.end_mark.index - 1  # the `]`
        sep = ", " if keys.items else ""
        return text[:close].rstrip() + sep + flow + text[close:]
    last = keys.items[-1]
    dash = text.rfind("-", _line_start(text, last.start_mark.index), last.start_mark.index)
    indent, inner = " " * (dash - _line_start(text, dash)), " " * last.start_mark.column
    if last.flow_style:
        entry = f"{indent}- {flow}\n"
    else:
        rest = "".join(f"{inner}{k}: {_scalar(v)}\n" for k, v in list(fields.items())[1:])
        entry = f"{indent}- name: {_scalar(name)}\n{rest}"
    at = _line_end(text, _last_index(last))
    return text[:at] + ("" if text[:at].endswith("\n") else "\n") + entry + text[at:]


def _scalar(value: str) -> str:
    """A plain scalar when YAML reads it back as the same string, else a double-quoted one."""
    plain = yaml.safe_load(f"x: {value}") if value and value[0] not in "{[&*!|>'\"%@`" else None
    return value if isinstance(plain, dict) and plain.get("x") == value else '"' + value.replace('"', '\\"') + '"'
