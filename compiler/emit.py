"""Render out/ (routing.py, env.sh, mcp.json, MANIFEST.json) deterministically, write it atomically, diff it."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import pathlib
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import jinja2

from bifrostc.compiler import __version__
from bifrostc.compiler.routing_context import routing_context
from bifrostc.compiler.spec import GatewaySpec
from bifrostc.runtime import config as c
from bifrostc.runtime.claude_gateway.managed import managed_documents

# bifrostc/compiler and bifrostc/templates are siblings both in the repository and when installed.
TEMPLATES = pathlib.Path(__file__).resolve().parent.parent / "templates"
OUTPUT_FILES = ("routing.py", "env.sh", "env.bedrock.sh", "env.vertex.sh", "mcp.json", "MANIFEST.json")


class FormatError(RuntimeError):
    """ruff could not format the generated module (a template bug, never a user error)."""


@dataclass(frozen=True)
class Source:
    name: str  # file name only: no absolute paths in generated files
    sha256: str

    @classmethod
    def of(cls, path: pathlib.Path, text: str) -> Source:
        return cls(path.name, hashlib.sha256(text.encode("utf-8")).hexdigest())


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["shell"] = shlex.quote
    return env


def render_all(spec: GatewaySpec, gateway: c.Gateway, source: Source) -> dict[str, str]:
    """Every output file's text, keyed by file name. Same spec -> same bytes."""
    env = _environment()
    header = {"version": __version__, "source_name": source.name, "source_sha256": source.sha256}
    routing = env.get_template("routing.py.jinja").render(**header, **routing_context(gateway))
    files = {
        "routing.py": ruff_format(routing),
        **{
            name: env.get_template(f"{name}.jinja").render(**header, **_env_context(spec, gateway))
            for name in ("env.sh", "env.bedrock.sh", "env.vertex.sh")  # Claude Code's three ways to its model
        },
        "mcp.json": _json(_mcp_config(spec, gateway)),
    }
    if gateway.claude_code.managed_settings is not None:  # what /claude-code/managed/settings serves, per team
        files["managed-settings.json"] = _json(managed_documents(gateway.claude_code.managed_settings, gateway.teams))
    manifest = {
        "bifrostc_version": __version__,
        "format_version": c.FORMAT_VERSION,
        "source": source.name,
        "source_sha256": source.sha256,
        "files": {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in sorted(files.items())},
    }
    files["MANIFEST.json"] = _json(manifest)
    return files


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def _base_url(gateway: c.Gateway) -> str:
    host = gateway.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # a wildcard bind is reached via loopback
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if gateway.server.tls else "http"
    return f"{scheme}://{host}:{gateway.server.port}"


def _env_context(spec: GatewaySpec, gateway: c.Gateway) -> dict[str, object]:
    key_env = spec.claude_code.key_env
    base = _base_url(gateway)
    return {
        "anthropic_base_url": f"{base}/anthropic",
        "openai_base_url": f"{base}/v1",
        # A "${VAR}" reference, expanded when sourced; the name is validated as an identifier, so no quoting issue.
        "api_key": f'"${{{key_env}}}"' if key_env else shlex.quote("bifrostc-local"),
        "bedrock_base_url": f"{base}/bedrock",
        "vertex_base_url": f"{base}/vertex/v1",
        # Claude Code sends ANTHROPIC_CUSTOM_HEADERS in its Bedrock and Vertex modes too: the key rides x-api-key.
        "key_header": f'"x-api-key: ${{{key_env}}}"' if key_env else shlex.quote("x-api-key: bifrostc-local"),
        "tiers": (tiers := _client_tiers(spec, gateway)),
        "small_fast_model": tiers.get("haiku"),
        # claude_code.credentials subscription | own_key: the person's own credential goes upstream (auth:
        # passthrough providers); the virtual key travels apart, in x-bifrostc-key.
        "credentials": spec.claude_code.credentials,
        "gateway_key_header": f'"x-bifrostc-key: ${{{key_env}}}"' if key_env else None,
    }


# What Claude Code is told to send for its haiku (background) requests when `claude_code.routing.background` is
# set and the haiku route's own name does not say haiku: an id the router maps to the haiku tier by name
# (Router.tier_of), so the rule `tier == "haiku"` sees them; sent as the route's name, they would look like main turns.
BACKGROUND_MODEL = "claude-haiku-4-5"


def _client_tiers(spec: GatewaySpec, gateway: c.Gateway) -> dict[str, str]:
    tiers = dict(gateway.tiers)
    haiku = tiers.get("haiku")
    routing = spec.claude_code.routing
    if routing is not None and routing.background and haiku is not None and "haiku" not in haiku.lower():
        tiers["haiku"] = BACKGROUND_MODEL
    return tiers


def _mcp_config(spec: GatewaySpec, gateway: c.Gateway) -> dict[str, object]:
    """What `claude mcp add-json bifrostc "$(cat out/mcp.json)"` takes; Claude Code expands ${VAR} itself."""
    config: dict[str, object] = {"type": "http", "url": f"{_base_url(gateway)}/mcp"}
    if spec.claude_code.key_env:
        config["headers"] = {"Authorization": f"Bearer ${{{spec.claude_code.key_env}}}"}
    return config


def _ruff_command() -> list[str]:
    try:
        from ruff.__main__ import find_ruff_bin

        return [str(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        return ["ruff"]


def ruff_format(code: str) -> str:
    """``ruff check --fix-only`` then ``ruff format``, in memory, with settings fixed here (not the cwd's)."""
    ruff = _ruff_command()
    common = ["--isolated", "--line-length", "120", "--stdin-filename", "routing.py"]
    steps = [
        [*ruff, "check", "--fix-only", "--exit-zero", "--select", "F401,I,UP", *common, "-"],
        [*ruff, "format", *common, "-"],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, input=code, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise FormatError(f"ruff failed on the generated routing.py: {getattr(exc, 'stderr', exc)}") from exc
        code = done.stdout
    return code


def write_atomically(files: dict[str, str], out_dir: pathlib.Path) -> None:
    """Write every file to a staging dir next to ``out_dir``, then move each into place with os.replace."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".bifrostc-staging-", dir=out_dir.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8", newline="\n")
        for name in files:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def drift(files: dict[str, str], out_dir: pathlib.Path) -> str:
    """A unified diff from what is in ``out_dir`` to what a build would write; empty when up to date."""
    chunks = []
    for name, text in sorted(files.items()):
        path = out_dir / name
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True), f"{out_dir.name}/{name}", name
            )
            chunks.append("".join(diff))
    return "".join(chunks)
