from __future__ import annotations

from bifrostc.compiler.diagnostics import Span
from bifrostc.compiler.loader import load_text


def test_values_and_keys_keep_their_line_and_column() -> None:
    loaded = load_text("providers:\n  openai:\n    type: openai\n    keys:\n      - {env: KEY, weight: 2}\n")
    assert loaded.data["providers"]["openai"]["keys"][0] == {"env": "KEY", "weight": 2}
    assert loaded.value_spans[("providers", "openai", "type")] == Span(3, 11, 6)
    assert loaded.key_spans[("providers", "openai", "type")] == Span(3, 5, 4)
    assert loaded.value_spans[("providers", "openai", "keys", 0, "weight")] == Span(5, 28, 1)


def test_a_missing_path_falls_back_to_its_nearest_ancestor() -> None:
    loaded = load_text("models:\n  smart:\n    target: openai/gpt-5\n")
    assert loaded.span_of(("models", "smart", "fallbacks", 3)) == Span(2, 3, 5)


def test_duplicate_mapping_keys_are_reported_at_the_second_key() -> None:
    loaded = load_text("models:\n  a: {target: x/y}\n  a: {target: x/z}\n")
    [diag] = loaded.diagnostics
    assert diag.path == ("models", "a")
    assert diag.span == Span(3, 3, 1)
    assert "duplicate key 'a'" in diag.message


def test_syntax_errors_become_a_diagnostic_with_a_position() -> None:
    loaded = load_text("a: [1, 2\nb: 3\n")
    [diag] = loaded.diagnostics
    assert diag.is_error and diag.message.startswith("invalid YAML:")
    assert diag.span is not None and diag.span.line == 2


def test_an_empty_document_loads_as_an_empty_mapping() -> None:
    loaded = load_text("# nothing here\n")
    assert loaded.data == {} and loaded.diagnostics == []
