"""One provider registry for compiler and runtime: every type the schema accepts builds and reaches its default
upstream; every README-documented option validates and reaches the adapter typed; unknown options and missing
extras are reported through the CLI."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from bifrostc.compiler.cli import main
from bifrostc.runtime import config
from bifrostc.runtime.app import create_app
from bifrostc.runtime.loadout import load_gateway
from bifrostc.runtime.providers import registry
from tests.runtime.rt_fakes import Upstream, anthropic_message, asgi_client, json_reply, openai_completion

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "gateway.schema.json").read_text())
USER = [{"role": "user", "content": "hello"}]
MODEL_FOR = {"bedrock": "claude-sonnet-4-5", "vertex": "gemini-2.5-pro", "gemini": "gemini-2.5-pro"}


def schema_types() -> list[str]:
    """Every provider type the published JSON schema accepts (the `type` of each union member)."""
    found: list[str] = []
    for member in SCHEMA["properties"]["providers"]["additionalProperties"]["oneOf"]:
        kind = SCHEMA["$defs"][member["$ref"].rsplit("/", 1)[-1]]["properties"]["type"]
        found += kind.get("enum", [kind.get("const")])
    return sorted(found)


def write_spec(tmp_path: pathlib.Path, spec: dict[str, Any]) -> pathlib.Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def build(tmp_path: pathlib.Path, spec: dict[str, Any]) -> config.Gateway:
    """`bifrostc build` through the CLI, then the generated routing.py loaded as `bifrostc serve` loads it."""
    out = tmp_path / "out"
    assert main(["build", str(write_spec(tmp_path, spec)), "-o", str(out)]) == 0
    return load_gateway(out)


def validate(tmp_path: pathlib.Path, spec: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", str(write_spec(tmp_path, spec))])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_schema_accepts_exactly_the_registry_types() -> None:
    assert schema_types() == sorted(registry.PROVIDERS)


@pytest.mark.parametrize("type_", schema_types())
async def test_every_schema_type_builds_its_adapter_and_calls_its_default_upstream(
    tmp_path: pathlib.Path, type_: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    kind = registry.PROVIDERS[type_]
    provider: dict[str, Any] = {"type": type_, "api_key_env": "UP_KEY"}
    if kind.needs_base_url:
        provider["base_url"] = kind.needs_base_url
    if kind.required_options:
        provider["options"] = {name: "proj-1" for name, _ in kind.required_options}
    model = MODEL_FOR.get(type_, "some-model")
    gateway = build(tmp_path, {"version": 1, "providers": {"p": provider}, "models": {"m": {"target": f"p/{model}"}}})
    compiled = gateway.providers["p"]
    assert compiled.base_url == (kind.needs_base_url or kind.default_base_url())

    upstream = Upstream()
    app = create_app(gateway, transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    adapter = app.state.runtime.dispatcher.adapters["p"]
    # The capabilities the handlers rely on are the registry's.
    assert getattr(adapter, "dialect", None) == kind.caps.passthrough_dialect
    assert hasattr(adapter, "count_tokens") == kind.caps.counts_tokens
    if kind.caps.passthrough_dialect == "openai":
        assert (adapter.stream_usage, adapter.max_tokens_field) == (kind.caps.stream_usage, kind.caps.max_tokens_field)
    async with asgi_client(app) as client:
        await client.post("/anthropic/v1/messages", json={"model": "m", "max_tokens": 8, "messages": USER})
    if type_ == "mock":
        assert upstream.requests == []
        return
    (sent,) = upstream.requests
    # Bedrock without a region bakes no URL: the adapter takes AWS_REGION's endpoint, else us-east-1's.
    expected = urlsplit(compiled.base_url or registry.default_base_url(type_, config.BedrockOptions("us-east-1")))
    assert (sent.url.scheme, sent.url.host, sent.url.port) == (expected.scheme, expected.hostname, expected.port)
    assert sent.url.path.startswith(expected.path), (sent.url, compiled.base_url)


def readme_documented_options() -> set[str]:
    """The option names the README's "Provider options" paragraph puts in backticks (up to the catch-all type)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Provider options", 1)[1].split("Any other OpenAI-compatible server", 1)[0]
    names = set(re.findall(r"`([a-z_]+)(?::[^`]*)?`", section))
    return names - {"options", "openai", "azure"}  # family names, not options


DOCUMENTED = {
    "bedrock": {"type": "bedrock", "options": {"region": "us-west-2", "api": "invoke"}},
    "vertex": {
        "type": "vertex",
        "options": {"project": "p", "location": "global", "credentials_file": "/etc/sa.json"},
    },
    "azure": {
        "type": "azure",
        "base_url": "https://contoso.openai.azure.com",
        "api_key_env": "AZ_KEY",
        "options": {"api_version": "2024-10-21", "deployments": {"gpt-5": "contoso-gpt5"}, "reasoning_effort": True},
    },
    "groq": {
        "type": "groq",
        "api_key_env": "GROQ_KEY",
        "options": {
            "max_tokens_field": "max_completion_tokens",
            "system_turns": "keep",
            "stream_usage": False,
            "reasoning_effort": "true",  # the quoted form older specs use still reads as a boolean
            "max_output_tokens": 8192,
            "api": {"llama": "chat"},
        },
    },
}


def test_validate_accepts_every_option_the_readme_documents(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    used = {name for provider in DOCUMENTED.values() for name in provider["options"]}
    assert readme_documented_options() == used, "the README section and this spec list different options"
    spec = {"version": 1, "providers": DOCUMENTED, "models": {"m": {"target": "groq/llama"}}}
    code, output = validate(tmp_path, spec, capsys)
    assert code == 0, output
    assert "error" not in output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reasoning_efort": True}, "unknown key 'reasoning_efort' in providers.openai.options. Did you mean"),
        ({"region": "us-west-2"}, "hint: 'region' is an option of provider type bedrock"),  # not OpenAI's
    ],
)
def test_an_unknown_option_fails_with_its_position_and_a_hint(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], options: dict[str, Any], message: str
) -> None:
    spec = {
        "version": 1,
        "providers": {"openai": {"type": "openai", "api_key_env": "OPENAI_KEY", "options": options}},
        "models": {"m": {"target": "openai/gpt-5"}},
    }
    code, output = validate(tmp_path, spec, capsys)
    assert code == 1
    key = next(iter(options))
    line = next(i for i, text in enumerate(yaml.safe_dump(spec, sort_keys=False).splitlines(), 1) if key in text)
    assert re.search(rf"gateway\.yaml:{line}:\d+: error: providers\.openai\.options\.{key}: ", output), output
    assert message in output
    if "Did you mean" in message:
        assert "Did you mean 'reasoning_effort'?" in output


async def test_bedrock_api_invoke_sends_claude_through_invoke_model(tmp_path: pathlib.Path) -> None:
    provider = {"type": "bedrock", "api_key_env": "UP_KEY", "options": {"region": "eu-west-1", "api": "invoke"}}
    spec = {"version": 1, "providers": {"bedrock": provider}, "models": {"m": {"target": "bedrock/claude-sonnet-4-5"}}}
    gateway = build(tmp_path, spec)
    assert 'BedrockOptions(region="eu-west-1", api="invoke")' in (tmp_path / "out" / "routing.py").read_text()

    def invoke_model(request: httpx.Request) -> httpx.Response:
        # InvokeModel for Anthropic models: a Messages body with anthropic_version, and no model or stream field.
        body = json.loads(request.content)
        if "model" in body or "stream" in body or body.get("anthropic_version") != "bedrock-2023-05-31":
            return json_reply({"message": "Malformed input request"}, 400)
        return json_reply(anthropic_message("invoked"))

    upstream = Upstream()
    upstream.default["bedrock-runtime.eu-west-1.amazonaws.com"] = invoke_model
    app = create_app(gateway, transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    async with asgi_client(app) as client:
        response = await client.post("/anthropic/v1/messages", json={"model": "m", "max_tokens": 8, "messages": USER})
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"] == "invoked"
    (sent,) = upstream.requests
    assert re.fullmatch(r"/model/[^/]*claude-sonnet-4-5[^/]*/invoke", sent.url.path), sent.url.path


@pytest.mark.parametrize(("reasoning_effort", "model"), [(False, "gpt-5"), (True, "my-finetune")])
async def test_openai_reasoning_effort_and_max_output_tokens_reach_the_upstream_body(
    tmp_path: pathlib.Path, reasoning_effort: bool, model: str
) -> None:
    options = {"reasoning_effort": reasoning_effort, "max_output_tokens": 1000}
    provider = {"type": "openai", "base_url": "http://oai.test/v1", "api_key_env": "UP_KEY", "options": options}
    gateway = build(
        tmp_path, {"version": 1, "providers": {"oai": provider}, "models": {"m": {"target": f"oai/{model}"}}}
    )
    upstream = Upstream().add("oai.test", json_reply(openai_completion("ok")))
    app = create_app(gateway, transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    # Claude Code's shape: a large budget and an effort, which the options override for this model.
    body = {"model": "m", "max_tokens": 32_000, "messages": USER, "output_config": {"effort": "high"}}
    body["thinking"] = {"type": "adaptive"}
    async with asgi_client(app) as client:
        response = await client.post("/anthropic/v1/messages", json=body)
    assert response.status_code == 200, response.text
    (sent,) = upstream.bodies("oai.test")
    assert sent["max_completion_tokens"] == 1000
    assert ("reasoning_effort" in sent) is reasoning_effort


async def test_openai_options_the_spec_declares_also_hold_on_passthrough(tmp_path: pathlib.Path) -> None:
    options = {"reasoning_effort": False, "max_output_tokens": 1000, "max_tokens_field": "max_completion_tokens"}
    provider = {"type": "vllm", "base_url": "http://vllm.test/v1", "options": options}
    gateway = build(tmp_path, {"version": 1, "providers": {"vllm": provider}, "models": {"m": {"target": "vllm/o3"}}})
    upstream = Upstream().add("vllm.test", json_reply(openai_completion("ok")))
    app = create_app(gateway, transport=upstream.transport(), environ={})
    body = {"model": "m", "max_tokens": 32_000, "reasoning_effort": "high", "messages": USER, "seed": 7}
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    (sent,) = upstream.bodies("vllm.test")
    assert sent == {"model": "o3", "max_completion_tokens": 1000, "messages": USER, "seed": 7}


async def test_bedrock_without_a_region_calls_the_aws_region_endpoint(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    provider = {"type": "bedrock", "api_key_env": "UP_KEY"}
    spec = {"version": 1, "providers": {"bedrock": provider}, "models": {"m": {"target": "bedrock/claude-sonnet-4-5"}}}
    gateway = build(tmp_path, spec)
    upstream = Upstream()
    app = create_app(gateway, transport=upstream.transport(), environ={"UP_KEY": "sk-test"})
    async with asgi_client(app) as client:
        await client.post("/anthropic/v1/messages", json={"model": "m", "max_tokens": 8, "messages": USER})
    (sent,) = upstream.requests
    assert sent.url.host == "bedrock-runtime.eu-central-1.amazonaws.com"
    assert "/model/eu." in sent.url.path  # and the EU cross-region inference profile, from the same region


STUB_BOTOCORE = "import sys; sys.modules['botocore'] = None; from bifrostc.compiler.cli import main; "


def test_a_missing_extra_is_named_by_validate_and_stops_serve_in_one_line(tmp_path: pathlib.Path) -> None:
    spec = {
        "version": 1,
        "providers": {"bedrock": {"type": "bedrock", "options": {"region": "us-west-2"}}},
        "models": {"m": {"target": "bedrock/claude-sonnet-4-5"}},
        "observability": {"log_store": "none"},
    }
    path = write_spec(tmp_path, spec)
    assert main(["build", str(path), "-o", str(tmp_path / "out")]) == 0

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        code = STUB_BOTOCORE + f"sys.exit(main({list(args)!r}))"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)

    validated = cli("validate", str(path))
    assert validated.returncode == 0, validated.stderr
    assert "needs the 'aws' extra" in validated.stdout + validated.stderr
    assert "pip install 'bifrostc[aws]'" in validated.stdout + validated.stderr

    served = cli("serve", str(tmp_path / "out"), "--port", "0", "--no-reload")
    assert served.returncode == 2
    errors = [line for line in served.stderr.splitlines() if not line.startswith("INFO")]
    assert errors == [errors[0]] and "needs the 'aws' extra" in errors[0] and "bifrostc[aws]" in errors[0], errors
