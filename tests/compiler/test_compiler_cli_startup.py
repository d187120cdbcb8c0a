"""`bifrostc serve` start-up: the CLI loads no compiler module it does not need, and passes --access-log on."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import types

import pytest

from bifrostc.compiler.cli import main


def test_importing_the_cli_does_not_load_the_compiler() -> None:
    code = "import sys, bifrostc.compiler.cli; print(sorted(m for m in sys.modules if m.startswith('bifrostc.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "bifrostc.compiler.api" not in loaded
    assert "bifrostc.compiler.spec" not in loaded


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ([], {}),
        (["--access-log"], {"access_log": True}),
        (["--no-access-log"], {"access_log": False}),
        (["--log-format", "json"], {"log_format": "json"}),
    ],
)
def test_serve_passes_the_access_log_and_log_format_flags(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], expected: dict[str, bool]
) -> None:
    (tmp_path / "routing.py").write_text("GATEWAY = None\n")
    calls: list[dict[str, object]] = []
    fake = types.ModuleType("bifrostc.runtime.server")
    fake.serve = lambda out_dir, **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bifrostc.runtime.server", fake)
    assert main(["serve", str(tmp_path), *flag]) == 0
    defaults = {"access_log": None, "allow_modified": False, "workers": None, "log_format": "text"}
    assert calls == [{"host": None, "port": None, "reload": True, **defaults, **expected}]  # access_log None: env


def test_an_embedded_gateway_loads_no_scale_out_client(tmp_path: pathlib.Path) -> None:
    """SQLite state and an in-memory cache must not pay for redis, psycopg or the MCP SDK at start-up."""
    spec = pathlib.Path("tests/golden/cases/governance/gateway.yaml").read_text()
    embedded = spec.replace("  state: redis\n", "").replace("  backend: redis\n", "")
    embedded = embedded.replace("log_store: postgres", "log_store: sqlite")
    (tmp_path / "gateway.yaml").write_text(embedded)
    out = tmp_path / "out"
    assert main(["build", str(tmp_path / "gateway.yaml"), "-o", str(out)]) == 0
    code = (
        "import sys, pathlib; from bifrostc.runtime.server import build_server_app; "
        f"build_server_app(pathlib.Path({str(out)!r}), reload=False); "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    loaded = set(run.stdout.strip().strip("[]").replace("'", "").split(", "))
    assert not loaded & {"redis", "psycopg", "mcp", "opentelemetry"}
