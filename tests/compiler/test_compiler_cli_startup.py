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
    [([], {}), (["--access-log"], {"access_log": True}), (["--no-access-log"], {"access_log": False})],
)
def test_serve_passes_access_log_only_when_given(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], expected: dict[str, bool]
) -> None:
    (tmp_path / "routing.py").write_text("GATEWAY = None\n")
    calls: list[dict[str, object]] = []
    fake = types.ModuleType("bifrostc.runtime.server")
    fake.serve = lambda out_dir, **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bifrostc.runtime.server", fake)
    assert main(["serve", str(tmp_path), *flag]) == 0
    assert calls == [{"host": None, "port": None, "reload": True, **expected}]
