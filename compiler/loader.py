"""Read gateway.yaml keeping the position of every key and value, so diagnostics can point at the source."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from bifrostc.compiler.diagnostics import Diagnostic, Path, Severity, Span, error


@dataclass
class LoadedSpec:
    text: str
    data: Any
    value_spans: dict[Path, Span] = field(default_factory=dict)
    key_spans: dict[Path, Span] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def span_of(self, path: Path, *, on_key: bool = False) -> Span | None:
        """Where ``path`` is in the source; on a miss, the nearest ancestor that exists."""
        for cut in range(len(path), -1, -1):
            prefix = path[:cut]
            spans = (self.key_spans, self.value_spans) if on_key or cut < len(path) else (self.value_spans,)
            for table in spans:
                if prefix in table:
                    return table[prefix]
        return None

    def locate(self, diags: list[Diagnostic]) -> list[Diagnostic]:
        """Attach spans to diagnostics that have none."""
        located = []
        for diag in diags:
            if diag.span is None:
                span = self.span_of(diag.path, on_key=diag.on_key)
                if span is not None and diag.inner is not None and diag.path in self.value_spans:
                    span = self._inside(span, diag.inner)
                diag = dataclasses.replace(diag, span=span)
            located.append(diag)
        return located

    def _inside(self, value: Span, inner: Span) -> Span:
        """A position inside a one-line scalar (quoted or plain); other scalars keep the value's own span."""
        lines = self.text.splitlines()
        if inner.line != 1 or value.line > len(lines):
            return value
        first = lines[value.line - 1][value.col - 1 : value.col]
        if first in ("|", ">"):
            return value
        offset = 1 if first in ("'", '"') else 0
        return Span(value.line, value.col + offset + inner.col - 1, inner.length)


# A spec is a few hundred nodes; aliases can make a dozen lines stand for billions (a "billion laughs" bomb).
MAX_NODES = 100_000
MAX_DEPTH = 64


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def load_text(text: str) -> LoadedSpec:
    """Parse YAML text. Syntax errors and duplicate keys become diagnostics, never exceptions.

    Positions are read off the node tree before it is constructed: construction flattens merge keys
    (`<<: *anchor`), after which a key overriding a merged one would look like a duplicate.
    """
    loaded = LoadedSpec(text=text, data=None)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            loaded.data = {}
            return loaded
        _Walker(loaded).walk(node, (), 0)
        if not loaded.diagnostics:
            loaded.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(mark.line + 1, mark.column + 1) if mark else None
        loaded.diagnostics.append(Diagnostic(Severity.ERROR, (), f"invalid YAML: {exc.problem}", span=span))
    except yaml.YAMLError as exc:
        loaded.diagnostics.append(error((), f"invalid YAML: {exc}"))
    except _TooLarge as exc:
        hint = "write the repeated part out, or use fewer nested aliases"
        loaded.diagnostics.append(Diagnostic(Severity.ERROR, (), str(exc), hint, _span(exc.node)))
    finally:
        loader.dispose()
    return loaded


def decode_spec(raw: bytes) -> tuple[str | None, Diagnostic | None]:
    """The file's text, or a diagnostic pointing at the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", "replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        message = f"the file is not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded"
        return None, Diagnostic(Severity.ERROR, (), message, "save the file as UTF-8", Span(line, column))


def _span(node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    length = end.column - start.column if end.line == start.line and isinstance(node, yaml.ScalarNode) else 1
    return Span(start.line + 1, start.column + 1, max(length, 1))


class _Walker:
    """Records the span of every key and value and reports duplicate keys, within a node budget."""

    def __init__(self, loaded: LoadedSpec) -> None:
        self.loaded = loaded
        self.visited = 0

    def walk(self, node: yaml.Node, path: Path, depth: int) -> None:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _TooLarge(node, f"the spec expands to more than {MAX_NODES:,} YAML nodes (through aliases?)")
        if depth > MAX_DEPTH:
            raise _TooLarge(node, f"the spec nests deeper than {MAX_DEPTH} levels")
        self.loaded.value_spans.setdefault(path, _span(node))
        if isinstance(node, yaml.MappingNode):
            self._mapping(node, path, depth)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index), depth + 1)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> None:
        seen: set[str] = set()
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged += value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                self.loaded.diagnostics.append(
                    Diagnostic(
                        Severity.ERROR,
                        child,
                        f"duplicate key '{key}'; YAML keeps only the last one",
                        "remove or rename one of them",
                        _span(key_node),
                        on_key=True,
                    )
                )
            seen.add(key)
            self.loaded.key_spans[child] = _span(key_node)
            self.walk(value_node, child, depth + 1)
        # Merged keys the mapping does not set itself point at the anchor they come from.
        for source in merged:
            if not isinstance(source, yaml.MappingNode):
                continue  # PyYAML reports a merge of a non-mapping when it constructs the document
            for key_node, value_node in source.value:
                key = str(key_node.value)
                if key_node.tag != "tag:yaml.org,2002:merge" and key not in seen:
                    seen.add(key)
                    self.loaded.key_spans.setdefault((*path, key), _span(key_node))
                    self.walk(value_node, (*path, key), depth + 1)
