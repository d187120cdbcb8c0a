from __future__ import annotations

from dataclasses import replace

from bifrostc.compiler.diagnostics import (
    Span,
    dedupe,
    did_you_mean,
    error,
    format_path,
    render,
    summary,
    warning,
)


def test_paths_render_as_dotted_keys_with_indices_and_quoted_odd_keys() -> None:
    assert format_path(("providers", "openai", "keys", 0, "env")) == "providers.openai.keys[0].env"
    assert format_path(("pricing", "openai/gpt-5", "input")) == 'pricing["openai/gpt-5"].input'
    assert format_path(()) == "<document>"


def test_did_you_mean_suggests_the_closest_candidate_only_when_close() -> None:
    assert did_you_mean("antropic", ["anthropic", "openai"]) == " Did you mean 'anthropic'?"
    assert did_you_mean("zzz", ["anthropic", "openai"]) == ""


def test_render_shows_location_source_line_caret_and_hint() -> None:
    diag = replace(error(("keys", 0, "weight"), "must be greater than 0 (got -1)", "use 1"), span=Span(2, 13, 2))
    text = render(diag, "gateway.yaml", ["keys:", "  - weight: -1"])
    assert text.splitlines() == [
        "gateway.yaml:2:13: error: keys[0].weight: must be greater than 0 (got -1)",
        "   2 |   - weight: -1",
        "     |             ^^",
        "  hint: use 1",
    ]


def test_summary_counts_errors_and_warnings() -> None:
    diags = [error(("a",), "x"), error(("b",), "y"), warning(("c",), "z")]
    assert summary(diags, "g.yaml", writing=True) == "2 errors, 1 warning in g.yaml; nothing written"
    assert summary(diags[2:], "g.yaml", writing=True) == "1 warning in g.yaml"


def test_dedupe_drops_repeats_and_sorts_by_position() -> None:
    late = replace(error(("b",), "late"), span=Span(9, 1))
    early = replace(error(("a",), "early"), span=Span(1, 1))
    assert dedupe([late, early, late]) == [early, late]
