"""The README's spec snippet is a valid spec (with a real digest in place of the placeholder)."""

from __future__ import annotations

import re
from pathlib import Path

from bifrostc.compiler.validate import validate_text

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_spec_snippet_validates() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"## A spec in one screen\n\n```yaml\n(.*?)```", text, re.S)
    assert match is not None
    spec = match.group(1).replace("<from bifrostc keygen>", "0" * 64)
    validated = validate_text(spec, environ={})
    errors = [d for d in validated.diagnostics if d.severity.value == "error"]
    assert errors == []


def test_readme_starts_with_the_two_set_up_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert "bifrostc serve out/" in blocks[0]
    assert "pytest" in blocks[1]
