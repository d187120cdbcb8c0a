"""Rendering probe results: a table for people, JSON for CI and for out/probe.json."""

from __future__ import annotations

import pathlib
import time
from typing import Any

from bifrostc.runtime.probe.results import PROBE_FILE, load_probe
from bifrostc.runtime.probe.runner import PlannedStep, RouteResult, TargetResult

__all__ = ["PROBE_FILE", "as_json", "dry_run", "last_probe", "load_probe", "table"]

_LABELS = {"ready": "ready", "caveats": "works with caveats", "not_ready": "NOT READY"}


def as_json(results: list[RouteResult], now: float | None = None) -> dict[str, Any]:
    probed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return {
        "probed_at": probed_at,
        "routes": [
            {
                "route": result.route,
                "tiers": result.tiers,
                "status": result.status,
                "targets": [target.as_json() for target in result.targets],
            }
            for result in results
        ],
    }


def _cells(route: str, target: TargetResult) -> list[str]:
    tool, steps = target.steps.tool, target.steps
    ttft = "-" if tool.ttft_ms is None else f"{tool.ttft_ms:.0f} ms"
    streamed = "-" if tool.error else ("streamed" if any(n > 1 for n in tool.argument_deltas.values()) else "at end")
    usage = "-" if tool.error else ("yes" if tool.usage.input_tokens or tool.usage.output_tokens else "none")
    parallel = "-" if steps.parallel is None or steps.parallel.error else str(len(steps.parallel.tool_calls))
    reasoning = ("kept" if steps.answer and not steps.answer.error else "refused") if steps.thinking else "off"
    if steps.thinking and steps.answer is None:
        reasoning = "-"
    return [
        route,
        f"{target.provider}/{target.model}",
        _LABELS[target.verdict.status],
        ttft,
        streamed,
        usage,
        reasoning,
        parallel,
        steps.count_method,
    ]


def table(results: list[RouteResult]) -> str:
    header = ["ROUTE", "TARGET", "VERDICT", "TTFT", "ARGS", "USAGE", "REASONING", "PARALLEL", "COUNT"]
    rows = [_cells(result.route, target) for result in results for target in result.targets]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), *lines]
    for result in results:
        for target in result.targets:
            verdict = target.verdict
            notes = [f"  why: {r}" for r in verdict.reasons] + [f"  caveat: {c}" for c in verdict.caveats]
            notes += [f"  hint: {h}" for h in dict.fromkeys(verdict.hints)]
            if notes:
                tiers = f" (Claude Code tier: {', '.join(result.tiers)})" if result.tiers else ""
                out += ["", f"{result.route} -> {target.provider}/{target.model}{tiers}: {_LABELS[verdict.status]}"]
                out += notes
    return "\n".join(out) + "\n"


def dry_run(steps: list[PlannedStep]) -> str:
    lines = ["A probe would send (upper-bound cost, from the price table):"]
    total = 0.0
    for step in steps:
        total += step.estimated_usd
        thinking = ", thinking" if step.request.thinking or step.request.reasoning_effort else ""
        lines.append(
            f"  {step.route}: {step.provider}/{step.model} {step.step}: {len(step.request.messages)} message(s),"
            f" {len(step.request.tools)} tools, max_tokens {step.request.max_tokens}{thinking}"
            f" ~ ${step.estimated_usd:.4f}"
        )
    lines.append(f"total ~ ${total:.4f} (plus one count_tokens call per target where the provider counts)")
    return "\n".join(lines) + "\n"


def last_probe(path: pathlib.Path, route: str) -> str:
    """What `bifrostc explain --out` adds: the route's verdicts from the last probe written to out/."""
    document = load_probe(path)
    if document is None:
        return f"  last probe: none in {path} (run `bifrostc probe SPEC --out {path.parent}`)\n"
    found = next((r for r in document.get("routes", []) if r.get("route") == route), None)
    if found is None:
        return f"  last probe ({document.get('probed_at', '?')}): this route was not probed\n"
    lines = [f"  last probe ({document.get('probed_at', '?')}): {_LABELS.get(found['status'], found['status'])}"]
    for target in found.get("targets", []):
        notes = [*target.get("reasons", []), *target.get("caveats", [])]
        label = _LABELS.get(target["status"], target["status"])
        lines.append(
            f"    {target['provider']}/{target['model']}: {label}" + (f" ({'; '.join(notes)})" if notes else "")
        )
    return "\n".join(lines) + "\n"
