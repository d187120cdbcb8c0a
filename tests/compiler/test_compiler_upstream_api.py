"""`options.api` (issue 11 item 4): the spec names the API a model is called on; `validate` says when an entry
does nothing or sends a Responses-only model where OpenAI answers 404; the schema offers the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from bifrostc.compiler.plan import build_gateway
from bifrostc.compiler.spec import GatewaySpec
from bifrostc.runtime import config
from bifrostc.runtime.providers.model_caps import upstream_api

SPEC = {
    "providers": {
        "oai": {
            "type": "openai",
            "api_key_env": "OAI_KEY",
            "options": {"api": {"gpt-5.1": "responses", "gpt-5-codex": "chat", "gpt-4o-mini": "responses"}},
        },
        "groq": {"type": "groq", "api_key_env": "OAI_KEY"},
    },
    "models": {
        "coder": {"target": "oai/gpt-5-codex", "pricing": {"input": 1, "output": 1}},
        "thinker": {"target": "oai/gpt-5.1", "pricing": {"input": 1, "output": 1}},
        "pro": {"target": "oai/o3-pro", "pricing": {"input": 1, "output": 1}},
        "open": {"target": "groq/gpt-5-codex", "pricing": {"input": 1, "output": 1}},
    },
}


def test_the_routed_gateway_calls_each_model_on_its_api() -> None:
    gateway = build_gateway(GatewaySpec.model_validate(SPEC))
    oai, groq = gateway.providers["oai"], gateway.providers["groq"]
    assert isinstance(oai.options, config.OpenAIOptions) and oai.options.api["gpt-5.1"] == "responses"
    assert upstream_api(oai, "gpt-5.1") == "responses"  # declared
    assert upstream_api(oai, "o3-pro") == "responses"  # a Responses-only family, no option needed
    assert upstream_api(oai, "gpt-5-codex") == "chat"  # the spec said so (and validate warns)
    assert upstream_api(oai, "gpt-4o") == "chat"
    assert upstream_api(groq, "gpt-5-codex") == "chat"  # another host's model of that name: its chat API


def test_validate_warns_for_api_entries_that_do_nothing_or_get_a_404(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    argv = [sys.executable, "-m", "bifrostc.compiler.cli", "validate", str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"OAI_KEY": "x", "PATH": ""})
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "options.api" in line]
    assert len(lines) == 2, result.stderr
    text = "\n".join(lines)
    assert "providers.oai.options.api.gpt-5-codex: OpenAI serves 'gpt-5-codex' only on the Responses API" in text
    assert "providers.oai.options.api.gpt-4o-mini: options.api names 'gpt-4o-mini', which no route" in text


def test_validate_refuses_an_api_that_does_not_exist(tmp_path: Path) -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["providers"]["oai"]["options"]["api"] = {"gpt-5.1": "assistants"}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(spec))
    argv = [sys.executable, "-m", "bifrostc.compiler.cli", "validate", str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"OAI_KEY": "x", "PATH": ""})
    assert result.returncode != 0
    assert 'providers.oai.options.api["gpt-5.1"]' in result.stderr and "is not one of: chat, responses" in result.stderr


def test_the_schema_offers_the_api_option() -> None:
    schema = json.loads((Path(__file__).parents[2] / "schema" / "gateway.schema.json").read_text())
    api = schema["$defs"]["OpenAIOptions"]["properties"]["api"]
    assert api["additionalProperties"]["enum"] == ["chat", "responses"]


def test_explain_says_which_targets_are_called_on_the_responses_api() -> None:
    from bifrostc.runtime.providers.notes import target_notes

    gateway = build_gateway(GatewaySpec.model_validate(SPEC))
    assert any("Responses API" in note for note in target_notes(gateway.providers["oai"], "o3-pro"))
    assert not any("Responses API" in note for note in target_notes(gateway.providers["oai"], "gpt-4o"))


def test_a_route_target_may_say_the_api_and_it_joins_the_providers_table(tmp_path: Path) -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["models"]["mini"] = {"targets": [{"provider": "oai", "model": "gpt-5-mini", "api": "responses"}]}
    gateway = build_gateway(GatewaySpec.model_validate(spec))
    options = gateway.providers["oai"].options
    assert isinstance(options, config.OpenAIOptions)
    assert list(options.api) == sorted(options.api) and options.api["gpt-5-mini"] == "responses"
    assert upstream_api(gateway.providers["oai"], "gpt-5-mini") == "responses"


def test_validate_refuses_a_target_api_that_contradicts_or_has_no_openai_provider(tmp_path: Path) -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["providers"]["claude"] = {"type": "anthropic", "api_key_env": "OAI_KEY"}
    spec["models"]["thinker"] = {"targets": [{"provider": "oai", "model": "gpt-5.1", "api": "chat"}]}
    spec["models"]["sonnet"] = {"targets": [{"provider": "claude", "model": "claude-sonnet-4-5", "api": "chat"}]}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(spec))
    argv = [sys.executable, "-m", "bifrostc.compiler.cli", "validate", str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"OAI_KEY": "x", "PATH": ""})
    assert result.returncode != 0
    assert "models.thinker.targets[0].api: oai/gpt-5.1 is given both APIs (chat, responses)" in result.stderr
    assert "models.sonnet.targets[0].api: api: applies to OpenAI-family providers" in result.stderr
