"""``bifrostc validate``'s machine formats for CI: one document for every file of the run.

- ``json``: ``{"ok", "strict", "files": [{"file", "ok", "errors", "warnings", "diagnostics": [...]}]}``;
- ``sarif``: SARIF 2.1.0, one run, a rule per top-level spec section (GitHub code scanning's upload format);
- ``github``: workflow commands, ``::error file=F,line=L,col=C,endColumn=E,title=bifrostc::message`` per line.

``text`` stays the compiler-style rendering of ``api.report``. A file passes when it has no error, and with
``strict`` no warning either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bifrostc.compiler import __version__
from bifrostc.compiler.diagnostics import Diagnostic, Severity, format_path

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SECTION_HELP = {
    "document": "the spec as a whole (YAML syntax, encoding, top-level shape)",
    "providers": "providers: types, keys, endpoints",
    "models": "models: routes, targets, fallbacks, aliases",
    "virtual_keys": "virtual keys: hashes, grants, budgets, rate limits",
}


@dataclass(frozen=True, slots=True)
class FileResult:
    """One validated file: its name as given on the command line and its diagnostics."""

    file: str
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors

    def passed(self, strict: bool) -> bool:
        return self.errors == 0 and not (strict and self.warnings)


def _section(diag: Diagnostic) -> str:
    first = diag.path[0] if diag.path else "document"
    return first if isinstance(first, str) else "document"


def _end_column(diag: Diagnostic) -> int | None:
    return diag.span.col + max(diag.span.length, 1) if diag.span else None


def _item(diag: Diagnostic) -> dict[str, Any]:
    return {
        "severity": diag.severity.value,
        "path": format_path(diag.path),
        "message": diag.message,
        "hint": diag.hint,
        "line": diag.span.line if diag.span else None,
        "column": diag.span.col if diag.span else None,
        "end_column": _end_column(diag),
    }


def to_json(results: list[FileResult], strict: bool) -> str:
    files = [
        {
            "file": r.file,
            "ok": r.passed(strict),
            "errors": r.errors,
            "warnings": r.warnings,
            "diagnostics": [_item(d) for d in r.diagnostics],
        }
        for r in results
    ]
    document = {"ok": all(r.passed(strict) for r in results), "strict": strict, "files": files}
    return json.dumps(document, indent=2) + "\n"


def _sarif_result(result: FileResult, diag: Diagnostic, strict: bool) -> dict[str, Any]:
    level = "error" if diag.is_error or strict else "warning"
    subject = f"{format_path(diag.path)}: " if diag.path else ""
    text = subject + diag.message + (f" (hint: {diag.hint})" if diag.hint else "")
    region: dict[str, int] = {"startLine": 1}
    if diag.span:
        region = {"startLine": diag.span.line, "startColumn": diag.span.col}
        end = _end_column(diag)
        if end is not None:
            region["endColumn"] = end
    location = {"physicalLocation": {"artifactLocation": {"uri": result.file}, "region": region}}
    return {"ruleId": f"bifrostc/{_section(diag)}", "level": level, "message": {"text": text}, "locations": [location]}


def to_sarif(results: list[FileResult], strict: bool) -> str:
    sections = sorted({_section(d) for r in results for d in r.diagnostics})
    rules = [
        {
            "id": f"bifrostc/{name}",
            "name": name,
            "shortDescription": {"text": SECTION_HELP.get(name, f"the spec's {name} section")},
        }
        for name in sections
    ]
    driver = {"name": "bifrostc", "version": __version__, "rules": rules}
    run = {
        "tool": {"driver": driver},
        "artifacts": [{"location": {"uri": r.file}} for r in results],
        "results": [_sarif_result(r, d, strict) for r in results for d in r.diagnostics],
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(results: list[FileResult], strict: bool) -> str:
    """GitHub Actions workflow commands: an annotation per diagnostic on the file's line and column."""
    lines = []
    for result in results:
        for diag in result.diagnostics:
            command = "error" if diag.is_error or strict else "warning"
            props = [f"file={_escape_property(result.file)}"]
            if diag.span:
                props += [f"line={diag.span.line}", f"col={diag.span.col}", f"endColumn={_end_column(diag)}"]
            props.append(f"title={_escape_property('bifrostc ' + format_path(diag.path))}")
            message = diag.message + (f"\nhint: {diag.hint}" if diag.hint else "")
            lines.append(f"::{command} {','.join(props)}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)


FORMATS = {"json": to_json, "sarif": to_sarif, "github": to_github}
