"""The ``bifrostc`` command line: options only; the work happens in ``api``, ``explain`` and friends.

Each command imports what it needs when it runs: ``serve`` never loads the compiler (~240 ms of spec models).

Exit codes: 0 ok, 1 invalid spec or drift, 2 usage error; except for the two commands that answer a question,
which exit 1 only for the answer "no" and 2 when they cannot answer (invalid spec, unknown key, usage):
``explain``: 0 the gateway would serve the request, 1 it would refuse it (400, 401 or 404).
``diff`` (like ``terraform plan -detailed-exitcode``): 0 same plans, 1 they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from bifrostc.compiler import __version__, keys_cli, probe_cli

if TYPE_CHECKING:
    from bifrostc.compiler import api
    from bifrostc.compiler.explain import Explanation
    from bifrostc.runtime import config as c

OK, INVALID, USAGE = 0, 1, 2
SERVED, REFUSED = 0, 1  # explain
SAME, DIFFERS = 0, 1  # diff


class UsageError(Exception):
    """A command-line problem (missing file, refusing to overwrite): exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself, then exits with 2
        return exc.code if isinstance(exc.code, int) else USAGE
    try:
        return int(args.handler(args))
    except UsageError as exc:
        print(f"bifrostc: error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug or os.environ.get("BIFROSTC_DEBUG"):
            raise
        # One line a user can act on; the traceback is for bug reports.
        print(f"bifrostc: error: {exc} (run `bifrostc --debug {args.command} ...` for the traceback)", file=sys.stderr)
        return INVALID


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bifrostc", description="Compile gateway.yaml into an LLM gateway.")
    parser.add_argument("--version", action="version", version=f"bifrostc {__version__}")
    parser.add_argument("--debug", action="store_true", help="print tracebacks (also BIFROSTC_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    cmd = sub.add_parser("validate", help="check specs and report every problem (exit 1 when any fails)")
    cmd.add_argument("files", nargs="+", type=pathlib.Path, metavar="file")
    cmd.add_argument("--out", type=pathlib.Path, help="also fail when this out/ dir is stale (one file only)")
    cmd.add_argument(
        "--format",
        choices=["text", "json", "sarif", "github"],
        default="text",
        help="text (compiler-style, stderr), or one json / SARIF 2.1.0 / GitHub annotations document on stdout",
    )
    cmd.add_argument("--strict", action="store_true", help="warnings fail too")
    cmd.add_argument("--no-env", action="store_true", help="skip the environment checks (variables unset here)")
    cmd.set_defaults(handler=_validate)

    cmd = sub.add_parser("build", help="compile a spec into out/")
    cmd.add_argument("file", type=pathlib.Path)
    cmd.add_argument("-o", "--out", type=pathlib.Path, required=True)
    cmd.add_argument("--check", action="store_true", help="write nothing; diff against out/ and exit 1 on drift")
    cmd.set_defaults(handler=_build)

    cmd = sub.add_parser(
        "explain", help="show what a request for MODEL would do (exit 0 served, 1 refused, 2 cannot tell)"
    )
    cmd.add_argument("file", type=pathlib.Path)
    cmd.add_argument("model", nargs="?", help="a model string (or give --request)")
    cmd.add_argument("--key", help="virtual key name: may it use this model?")
    cmd.add_argument("--request", type=pathlib.Path, help="a JSON request body: evaluate the routing rules for it")
    cmd.add_argument("--dialect", default="anthropic", help="the --request body's API: anthropic, openai, responses")
    cmd.add_argument("--header", action="append", default=[], help="'name: value' sent with --request (repeatable)")
    cmd.add_argument(
        "--level", action="append", default=[], help="'budget_used=85': a live-capacity variable's value (default 0)"
    )
    cmd.add_argument("--out", type=pathlib.Path, help="out/ dir: also show the route's last `bifrostc probe` there")
    cmd.set_defaults(handler=_explain)

    cmd = sub.add_parser("diff", help="field-by-field diff of two compiled plans (exit 0 same, 1 differ, 2 invalid)")
    cmd.add_argument("old", type=pathlib.Path)
    cmd.add_argument("new", type=pathlib.Path)
    cmd.set_defaults(handler=_diff)

    probe_cli.register(sub)
    keys_cli.register(sub)

    cmd = sub.add_parser("init", help="write a starter gateway.yaml")
    cmd.add_argument("--quickstart", action="store_true", help="offline spec using the built-in mock provider")
    cmd.add_argument("-o", "--out", type=pathlib.Path, default=pathlib.Path("gateway.yaml"), help="'-' for stdout")
    cmd.add_argument("--force", action="store_true", help="overwrite an existing file")
    cmd.set_defaults(handler=_init)

    cmd = sub.add_parser("schema", help="print or write the JSON Schema of gateway.yaml")
    cmd.add_argument("-o", "--out", type=pathlib.Path)
    cmd.add_argument("--check", action="store_true", help="exit 1 when the file differs from the models")
    cmd.set_defaults(handler=_schema)

    cmd = sub.add_parser("keygen", help="make a new virtual key: prints the value once and the sha256 for the spec")
    cmd.add_argument("name", nargs="?", default="my-key", help="the virtual key's name in the spec snippet")
    cmd.set_defaults(handler=_keygen)

    cmd = sub.add_parser("serve", help="run the gateway from a built out/ dir")
    cmd.add_argument("out_dir", type=pathlib.Path)
    cmd.add_argument("--host")
    cmd.add_argument("--port", type=int)
    cmd.add_argument(
        "--reload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="hot-swap out/routing.py when it is rebuilt, in-flight streams finish on the old one (default: on)",
    )
    cmd.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one log line per request: request id, key, model, provider, status, latency, tokens, cost"
        " (default: off unless BIFROSTC_ACCESS_LOG is set)",
    )
    cmd.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="text lines, or one JSON object per line"
    )
    cmd.add_argument(
        "--allow-modified",
        action="store_true",
        help="serve a routing.py that does not match out/MANIFEST.json (edited by hand) instead of refusing it",
    )
    cmd.add_argument(
        "--workers",
        metavar="N|auto",
        help="gateway processes on the one port (default: BIFROSTC_WORKERS, else server.workers: auto, one per"
        " core this process may use)",
    )
    cmd.set_defaults(handler=_serve)
    return parser


def _existing(path: pathlib.Path) -> pathlib.Path:
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    return path


def _compiled(
    path: pathlib.Path, *, writing: bool = False, stderr: TextIO | None = None, errors_only: bool = False
) -> api.BuildResult:
    """Compile in memory and report diagnostics; `errors_only` for commands where env warnings are noise."""
    from bifrostc.compiler import api
    from bifrostc.compiler.diagnostics import Severity

    result = api.compile_spec(_existing(path))
    loaded = result.validated.loaded
    diags = result.validated.diagnostics
    if errors_only:
        diags = [d for d in diags if d.severity is Severity.ERROR]
    text = api.report(diags, str(path), loaded.text, writing=writing)
    (stderr or sys.stderr).write(text)
    return result


def _validate(args: argparse.Namespace) -> int:
    from bifrostc.compiler import api
    from bifrostc.compiler.validate_report import FORMATS, FileResult

    if args.out is not None and len(args.files) > 1:
        raise UsageError("--out checks one spec's out/ dir; give one file with it")
    for path in args.files:  # a missing file is a usage error before any report
        _existing(path)
    results, passed = [], True
    for path in args.files:
        result = api.compile_spec(path, check_env=not args.no_env)
        diags = result.validated.diagnostics
        results.append(FileResult(str(path), diags))
        passed = passed and results[-1].passed(args.strict)
        if args.format == "text":
            sys.stderr.write(api.report(diags, str(path), result.validated.loaded.text, writing=False))
            if results[-1].passed(args.strict):
                print(f"{path}: ok")
            elif result.ok:
                print(f"{path}: {results[-1].warnings} warning(s) fail under --strict", file=sys.stderr)
        if args.out is not None and result.ok and not _fresh(result, path, args.out):
            passed = False
    if args.format != "text":
        sys.stdout.write(FORMATS[args.format](results, args.strict))
    return OK if passed else INVALID


def _fresh(result: api.BuildResult, path: pathlib.Path, out: pathlib.Path) -> bool:
    from bifrostc.compiler.emit import drift

    stale = drift(result.files, out)
    if stale:
        sys.stdout.write(stale)
        print(f"{out} is out of date; run bifrostc build {path} -o {out}", file=sys.stderr)
    return not stale


def _build(args: argparse.Namespace) -> int:
    from bifrostc.compiler import api

    _existing(args.file)
    result = api.build(args.file, args.out, check=args.check)
    text = api.report(result.validated.diagnostics, str(args.file), result.validated.loaded.text, writing=True)
    sys.stderr.write(text)
    if not result.validated.ok:
        return INVALID
    if result.drift:
        sys.stdout.write(result.drift)
        print(f"{args.out} is out of date; run bifrostc build {args.file} -o {args.out}", file=sys.stderr)
        return INVALID
    verb = "is up to date" if args.check else "written"
    print(f"{args.out}: {verb} ({', '.join(sorted(result.files))})")
    return OK


def _explain(args: argparse.Namespace) -> int:
    from bifrostc.compiler.explain import ExplainError

    result = _compiled(args.file, errors_only=True)
    if result.gateway is None:
        return USAGE
    try:
        answer = _explain_answer(result.gateway, args)
    except ExplainError as exc:
        print(f"bifrostc: {exc}", file=sys.stderr)
        return USAGE
    sys.stdout.write(answer.text)  # a refusal is an answer too: stdout, and the exit code says which
    if args.out is not None and answer.route is not None:
        from bifrostc.runtime.probe.report import PROBE_FILE, last_probe

        sys.stdout.write(last_probe(args.out / PROBE_FILE, answer.route))
    return SERVED if answer.served else REFUSED


def _explain_answer(gateway: c.Gateway, args: argparse.Namespace) -> Explanation:
    from bifrostc.compiler.explain import ExplainError, explain

    if args.request is None:
        if args.model is None:
            raise ExplainError("give a MODEL or --request req.json")
        return explain(gateway, args.model, args.key)
    from bifrostc.compiler.explain_rules import explain_request

    try:
        body = json.loads(args.request.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExplainError(f"cannot read --request {args.request}: {exc}") from None
    if not isinstance(body, dict):
        raise ExplainError("--request must hold a JSON object")
    headers = {}
    for header in args.header:
        name, colon, value = header.partition(":")
        if not colon:
            raise ExplainError(f"--header {header!r}: write it as 'name: value'")
        headers[name.strip().lower()] = value.strip()
    return explain_request(gateway, body, args.dialect, headers, args.key, _levels(args.level))


def _levels(given: list[str]) -> dict[str, float]:
    from bifrostc.compiler.explain import ExplainError
    from bifrostc.runtime.rules import CAPACITY

    levels = {}
    for item in given:
        name, equals, value = item.partition("=")
        name = name.strip()
        try:
            if not equals or name not in CAPACITY:
                raise ValueError
            levels[name] = float(value)
        except ValueError:
            names = ", ".join(sorted(CAPACITY))
            raise ExplainError(f"--level {item!r}: write NAME=PERCENT, NAME one of {names}") from None
    return levels


def _diff(args: argparse.Namespace) -> int:
    from bifrostc.compiler.semantic_diff import diff_gateways

    old, new = _compiled(args.old, errors_only=True), _compiled(args.new, errors_only=True)
    if old.gateway is None or new.gateway is None:
        return USAGE
    lines = diff_gateways(old.gateway, new.gateway)
    for line in lines:
        print(line)
    if not lines:
        print("no differences in the compiled plans")
    return DIFFERS if lines else SAME


def _init(args: argparse.Namespace) -> int:
    from bifrostc.compiler.emit import TEMPLATES

    name = "quickstart.gateway.yaml.jinja" if args.quickstart else "starter.gateway.yaml.jinja"
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    if str(args.out) == "-":
        sys.stdout.write(text)
        return OK
    if args.out.exists() and not args.force:
        raise UsageError(f"{args.out} exists; pass --force to overwrite")
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}; next: bifrostc build {args.out} -o out")
    return OK


def _schema(args: argparse.Namespace) -> int:
    from bifrostc.compiler.schema_gen import gateway_schema

    text = gateway_schema()
    if args.out is None:
        sys.stdout.write(text)
        return OK
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date; run bifrostc schema -o {args.out}", file=sys.stderr)
            return INVALID
        return OK
    args.out.write_text(text, encoding="utf-8")
    return OK


def _keygen(args: argparse.Namespace) -> int:
    import hashlib
    import secrets

    # The prefix lets the gateway refuse a revoked or mistyped key instead of treating it as anonymous.
    value = "sk-bfc-" + secrets.token_urlsafe(32)
    digest = hashlib.sha256(value.encode()).hexdigest()
    print(f"key (shown once; give it to the client, never to the spec): {value}", file=sys.stderr)
    print(f"virtual_keys:\n  - name: {args.name}\n    key_sha256: {digest}")
    return OK


def _serve(args: argparse.Namespace) -> int:
    if not (args.out_dir / "routing.py").is_file():
        raise UsageError(f"{args.out_dir} has no routing.py; run bifrostc build first")
    from bifrostc.runtime.loadout import LoadoutError
    from bifrostc.runtime.providers import UnknownProviderType
    from bifrostc.runtime.server import serve  # lazy: the compiler works without the runtime's dependencies
    from bifrostc.runtime.supervisor import WorkersError

    try:
        status = serve(
            args.out_dir,
            host=args.host,
            port=args.port,
            reload=args.reload,
            access_log=args.access_log,  # None: the env decides
            allow_modified=args.allow_modified,
            workers=args.workers,  # None: BIFROSTC_WORKERS, then server.workers
            log_format=args.log_format,
        )
    except WorkersError as exc:  # e.g. --workers 4 with the embedded state in memory
        raise UsageError(str(exc)) from exc
    except UnknownProviderType as exc:  # e.g. bedrock without bifrostc[aws]: one line naming the extra
        raise UsageError(str(exc)) from exc
    except LoadoutError as exc:  # missing, modified or broken routing.py: one line, no traceback
        print(f"bifrostc: error: {exc}", file=sys.stderr)
        return INVALID
    return status or OK  # 1: the supervisor stopped because workers kept dying at start


if __name__ == "__main__":
    raise SystemExit(main())
