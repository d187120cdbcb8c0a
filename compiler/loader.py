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
                diag = dataclasses.replace(diag, span=span)
            located.append(diag)
        return located


def load_text(text: str) -> LoadedSpec:
    """Parse YAML text. Syntax errors and duplicate keys become diagnostics, never exceptions."""
    loaded = LoadedSpec(text=text, data=None)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        loaded.data = loader.construct_document(node) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(mark.line + 1, mark.column + 1) if mark else None
        loaded.diagnostics.append(Diagnostic(Severity.ERROR, (), f"invalid YAML: {exc.problem}", span=span))
        return loaded
    except yaml.YAMLError as exc:
        loaded.diagnostics.append(error((), f"invalid YAML: {exc}"))
        return loaded
    finally:
        loader.dispose()
    if node is not None:
        _walk(node, (), loaded)
    return loaded


def _span(node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    length = end.column - start.column if end.line == start.line and isinstance(node, yaml.ScalarNode) else 1
    return Span(start.line + 1, start.column + 1, max(length, 1))


def _walk(node: yaml.Node, path: Path, loaded: LoadedSpec) -> None:
    loaded.value_spans[path] = _span(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                loaded.diagnostics.append(
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
            loaded.key_spans[child] = _span(key_node)
            _walk(value_node, child, loaded)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), loaded)
