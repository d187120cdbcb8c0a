"""`bifrostc probe gateway.yaml [ROUTE...]`: is each route ready for Claude Code? Asks the real upstreams.

Exit codes: 0 every Claude Code tier is ready (or has caveats), 1 a tier points at a route that is not ready
(or the spec is invalid), 2 usage error (an unknown route).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
from typing import Any


def register(sub: Any) -> None:
    cmd = sub.add_parser("probe", help="run a short Claude Code-like conversation against each route's upstreams")
    cmd.add_argument("file", type=pathlib.Path)
    cmd.add_argument("routes", nargs="*", help="routes, aliases or tiers to probe (default: every route)")
    cmd.add_argument("--format", choices=["text", "json"], default="text")
    cmd.add_argument("--dry-run", action="store_true", help="print what would be sent and its cost; send nothing")
    cmd.add_argument("--timeout", type=float, default=60.0, help="seconds per step (default 60)")
    cmd.add_argument("--no-thinking", action="store_true", help="do not ask reasoning models to think")
    cmd.add_argument("--out", type=pathlib.Path, help="also write the results to OUT/probe.json")
    cmd.set_defaults(handler=_probe)


def _probe(args: argparse.Namespace) -> int:
    from bifrostc.compiler.cli import INVALID, OK, USAGE, _compiled  # cli imports this module: import late
    from bifrostc.runtime.probe import report
    from bifrostc.runtime.probe.runner import plan, routes_to_probe

    result = _compiled(args.file, errors_only=True)
    if result.gateway is None:
        return INVALID
    try:
        routes = routes_to_probe(result.gateway, args.routes)
    except KeyError as exc:
        print(f"bifrostc: error: no route, alias or tier named {exc.args[0]!r} in {args.file}", file=sys.stderr)
        return USAGE
    if args.dry_run:
        sys.stdout.write(report.dry_run(list(plan(result.gateway, routes))))
        return OK
    results = asyncio.run(_run(result.gateway, routes, args))
    document = report.as_json(results)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / report.PROBE_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(json.dumps(document, indent=2) + "\n" if args.format == "json" else report.table(results))
    blocking = [r.route for r in results if r.tiers and r.status == "not_ready"]
    if blocking:
        print(f"bifrostc: Claude Code tiers point at routes that are not ready: {', '.join(blocking)}", file=sys.stderr)
        return INVALID
    return OK


async def _run(gateway: Any, routes: list[Any], args: argparse.Namespace) -> list[Any]:
    from bifrostc.runtime.probe.runner import Prober

    prober = Prober(gateway, timeout=args.timeout, thinking=not args.no_thinking)
    try:
        return [await prober.route(route) for route in routes]
    finally:
        await prober.aclose()
