"""Cross-field rules, driven through the whole validation pipeline as a user would hit them."""

from __future__ import annotations

from bifrostc.compiler.diagnostics import Severity
from bifrostc.compiler.validate import validate_text

BASE = """
version: 1
providers:
  openai: {type: openai, api_key_env: UPSTREAM_OPENAI_API_KEY}
  anthropic: {type: anthropic, api_key_env: UPSTREAM_ANTHROPIC_API_KEY}
models:
  smart: {target: openai/gpt-5}
  cheap: {target: openai/gpt-5-mini}
"""
ENV = {"UPSTREAM_OPENAI_API_KEY": "x", "UPSTREAM_ANTHROPIC_API_KEY": "x"}


def messages(extra: str, env: dict[str, str] | None = None) -> list[str]:
    result = validate_text(BASE + extra, ENV if env is None else env)
    return [f"{d.severity.value}: {'.'.join(map(str, d.path))}: {d.message}" for d in result.diagnostics]


def test_a_valid_spec_has_no_diagnostics_and_yields_a_spec() -> None:
    result = validate_text(BASE, ENV)
    assert result.diagnostics == [] and result.ok


def test_shape_and_reference_errors_are_reported_together() -> None:
    found = messages("  broken: {target: opnai/x, fallback: [y]}\n")
    assert any("unknown key 'fallback'" in m for m in found)
    assert any("unknown provider 'opnai'" in m for m in found)


def test_provider_model_strings_are_valid_references() -> None:
    assert messages("claude_code: {sonnet: anthropic/claude-sonnet-4-5, haiku: cheap}\n") == []


def test_a_two_step_fallback_cycle_is_named_once() -> None:
    spec = BASE.replace("smart: {target: openai/gpt-5}", "smart: {target: openai/gpt-5, fallbacks: [cheap]}")
    spec = spec.replace("cheap: {target: openai/gpt-5-mini}", "cheap: {target: openai/gpt-5-mini, fallbacks: [smart]}")
    found = [d.message for d in validate_text(spec, ENV).diagnostics]
    assert found == ["fallback cycle: cheap -> smart -> cheap"]


def test_an_alias_resolves_in_fallbacks_and_cannot_shadow_a_name() -> None:
    ok = BASE.replace("cheap: {target: openai/gpt-5-mini}", "cheap: {target: openai/gpt-5-mini, aliases: [mini]}")
    assert validate_text(ok + "  third: {target: openai/o3, fallbacks: [mini]}\n", ENV).ok
    clash = BASE.replace("cheap: {target: openai/gpt-5-mini}", "cheap: {target: openai/gpt-5-mini, aliases: [smart]}")
    assert [d.message for d in validate_text(clash, ENV).diagnostics] == [
        "alias 'smart' is already used by models.smart"
    ]


def test_target_and_targets_are_mutually_exclusive_and_one_is_required() -> None:
    found = messages("  both: {target: openai/a, targets: [{provider: openai, model: b}]}\n  none: {}\n")
    assert "error: models.both.target: give either target or targets, not both" in found
    assert any(m.startswith("error: models.none: no target") for m in found)


def test_azure_needs_a_base_url_and_vertex_a_project() -> None:
    spec = "providers:\n  azure: {type: azure, api_key_env: K}\n  vertex: {type: vertex}\n"
    found = [d.message for d in validate_text(spec, {"K": "x"}).diagnostics]
    assert any("azure needs base_url" in m for m in found)
    assert any("vertex needs options.project" in m for m in found)


def test_missing_env_vars_are_warnings_not_errors() -> None:
    result = validate_text(BASE, {})
    assert result.ok
    assert {d.severity for d in result.diagnostics} == {Severity.WARNING}
    assert [d.message for d in result.diagnostics] == [
        "environment variable UPSTREAM_OPENAI_API_KEY is not set",
        "environment variable UPSTREAM_ANTHROPIC_API_KEY is not set",
    ]


def test_semantic_cache_needs_a_known_embedding_model() -> None:
    assert any("semantic cache needs embedding_model" in m for m in messages("cache: {mode: semantic}\n"))
    found = messages("cache: {mode: semantic, embedding_model: embedd}\n")
    assert any("unknown model 'embedd'" in m for m in found)


def test_redis_state_needs_a_redis_url_env() -> None:
    assert any("needs server.redis_url_env" in m for m in messages("server: {state: redis}\n"))


def test_budget_periods_are_checked_everywhere_budgets_appear() -> None:
    found = messages(
        "teams: {t: {budget: {max_usd: 1, period: 1y}}}\nvirtual_keys:\n"
        "  - {name: k, key_env: UPSTREAM_OPENAI_API_KEY, budget: {max_usd: 1, period: 1D}}\n"
    )
    assert "error: teams.t.budget.period: unknown budget period '1y'." in found
    assert "error: virtual_keys.0.budget.period: unknown budget period '1D'. Did you mean '1d'?" in found


def test_virtual_key_model_grants_accept_globs_and_reject_unknown_names() -> None:
    key = "{name: k, key_env: UPSTREAM_OPENAI_API_KEY, allowed_models: ['gpt-*', smrt]}"
    found = messages(f"virtual_keys:\n  - {key}\n")
    assert found == ["error: virtual_keys.0.allowed_models.1: unknown model 'smrt'. Did you mean 'smart'?"]


def test_a_literal_key_in_a_provider_is_an_error_with_an_env_var_hint() -> None:
    literal = BASE.replace("api_key_env: UPSTREAM_OPENAI_API_KEY", "api_key: sk-abcdefghijklmnopqrstu")
    result = validate_text(literal, ENV)
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.path == ("providers", "openai", "api_key")
    assert diag.hint is not None and "environment variable" in diag.hint
    assert not diag.quote_source


def test_an_env_name_field_holding_a_value_is_rejected_without_echoing_it() -> None:
    result = validate_text(BASE.replace("api_key_env: UPSTREAM_OPENAI_API_KEY", "api_key_env: 'my key!'"), ENV)
    [diag] = [d for d in result.diagnostics if d.is_error]
    assert diag.message == "is not an environment variable name" and "my key" not in diag.message
