"""Renders the chart's templates without helm: exactly the template subset the chart uses, and nothing else.

Supported: ``{{ EXPR }}`` with ``{{-``/``-}}`` whitespace trimming; EXPR is ``.Values.a.b``, ``.Release.Name``,
``.Release.Namespace``, ``.Chart.Name|Version|AppVersion`` or ``(.Files.Glob "pattern").AsConfig``, piped through
``quote``, ``toYaml``, ``indent N`` or ``nindent N``. Anything else raises, so a template that starts using
another helm feature fails this check instead of rendering wrong.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import yaml

_ACTION = re.compile(r"(?P<lt>\s*)\{\{(?P<ltrim>-?)\s*(?P<expr>.*?)\s*(?P<rtrim>-?)\}\}(?P<rt>\s*)", re.DOTALL)
_GLOB = re.compile(r'^\(\.Files\.Glob "(?P<pattern>[^"]+)"\)\.AsConfig$')


class UnsupportedTemplate(ValueError):
    pass


class _Literal(str):
    """A multi-line string dumped as a YAML block scalar, as helm's AsConfig does."""


yaml.SafeDumper.add_representer(
    _Literal, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
)


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False).rstrip("\n")


def _lookup(root: dict[str, Any], dotted: str) -> Any:
    value: Any = root
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UnsupportedTemplate(f"no value at .{dotted}")
        value = value[part]
    return value


def _files_as_config(chart: Path, pattern: str) -> str:
    files = sorted(
        p for p in chart.rglob("*") if p.is_file() and fnmatch.fnmatch(p.relative_to(chart).as_posix(), pattern)
    )
    data = {p.name: _Literal(p.read_text(encoding="utf-8")) for p in files}
    return _to_yaml(data) if data else ""


def _evaluate(expr: str, chart: Path, context: dict[str, Any]) -> str:
    head, *pipes = [part.strip() for part in expr.split("|")]
    if head.startswith("toYaml "):  # `toYaml X` is `X | toYaml`
        head, pipes = head.removeprefix("toYaml ").strip(), ["toYaml", *pipes]
    value: Any
    if match := _GLOB.match(head):
        value = _files_as_config(chart, match["pattern"])
    elif head.startswith("."):
        value = _lookup(context, head[1:])
    else:
        raise UnsupportedTemplate(f"unsupported expression {head!r}")
    for pipe in pipes:
        name, *args = pipe.split()
        if name == "quote":
            value = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif name == "toYaml":
            value = _to_yaml(value)
        elif name in ("indent", "nindent") and len(args) == 1 and args[0].isdigit():
            pad = " " * int(args[0])
            value = "\n".join(pad + line if line else line for line in str(value).splitlines())
            value = "\n" + value if name == "nindent" else value
        else:
            raise UnsupportedTemplate(f"unsupported function {pipe!r}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_template(text: str, chart: Path, context: dict[str, Any]) -> str:
    def action(match: re.Match[str]) -> str:
        rendered = _evaluate(match["expr"], chart, context)
        left = "" if match["ltrim"] else match["lt"]
        right = "" if match["rtrim"] else match["rt"]
        return left + rendered + right

    return _ACTION.sub(action, text)


def render_chart(chart: Path, release: str = "gw", namespace: str = "default") -> dict[str, str]:
    """Every template of `chart` rendered with its values.yaml: {template file name: YAML text}."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    context = {
        "Values": yaml.safe_load((chart / "values.yaml").read_text()),
        "Release": {"Name": release, "Namespace": namespace},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
    }
    return {
        path.name: render_template(path.read_text(), chart, context)
        for path in sorted((chart / "templates").glob("*.yaml"))
    }
