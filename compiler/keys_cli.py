"""`bifrostc keys ...`: the virtual-key lifecycle from the terminal.

``add|rotate|revoke NAME`` edit the spec's ``virtual_keys`` in place (``keys_edit``: comments and layout kept),
print a new key once on stdout, and with ``--out DIR`` rebuild out/ so a running gateway hot-reloads it.

``approve-device CODE --key NAME``: for an operator helping a developer without a browser at hand: the code
their `/login` shows is approved exactly as the verification page would approve it, bound to virtual key NAME,
in the sign-in database of the spec's gateway (next to its log database; run it where `bifrostc serve` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sys
import time
from typing import Any


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="virtual key operations on a running gateway's state")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    cmd = actions.add_parser("approve-device", help="approve a pending Claude Code /login code for a virtual key")
    cmd.add_argument("code", help="the code Claude Code shows, e.g. WDJB-MJHT")
    cmd.add_argument("--key", required=True, help="the virtual key's name in the spec")
    cmd.add_argument("--spec", type=pathlib.Path, default=pathlib.Path("gateway.yaml"), help="default gateway.yaml")
    cmd.set_defaults(handler=_approve_device)
    for action, text in (
        ("add", "add virtual key NAME with a new key (printed once)"),
        ("rotate", "give virtual key NAME a new key (printed once); the old one stops at the next build"),
        ("revoke", "remove virtual key NAME; its key stops at the next build"),
    ):
        cmd = actions.add_parser(action, help=text)
        cmd.add_argument("name", help="the virtual key's name in the spec")
        cmd.add_argument("--spec", type=pathlib.Path, default=pathlib.Path("gateway.yaml"), help="default gateway.yaml")
        cmd.add_argument(
            "-o", "--out", type=pathlib.Path, help="also rebuild this out/ dir (a running gateway reloads it)"
        )
        if action == "add":
            cmd.add_argument("--team", help="the team the key belongs to")
        cmd.set_defaults(handler=_edit, keys_action=action)


def _edit(args: argparse.Namespace) -> int:
    import yaml

    from bifrostc.compiler import api
    from bifrostc.compiler.cli import INVALID, OK, USAGE
    from bifrostc.compiler.diagnostics import Severity
    from bifrostc.compiler.keys_edit import KeyEditError, add, new_key, revoke, rotate
    from bifrostc.compiler.validate import validate_text

    if not args.spec.is_file():  # (cli.UsageError is another class when cli runs as __main__)
        print(f"bifrostc: error: no such file: {args.spec}", file=sys.stderr)
        return USAGE
    text = args.spec.read_text(encoding="utf-8")
    value, digest = new_key()
    try:
        if args.keys_action == "add":
            edited = add(text, args.name, digest, args.team)
        elif args.keys_action == "rotate":
            edited = rotate(text, args.name, digest)
        else:
            edited = revoke(text, args.name)
    except (KeyEditError, yaml.YAMLError) as exc:
        print(f"bifrostc: error: {args.spec}: {exc}", file=sys.stderr)
        return INVALID
    errors = [d for d in validate_text(edited, check_env=False).diagnostics if d.severity is Severity.ERROR]
    if errors:  # never leave a spec the edit broke (or one that was broken already): nothing written
        sys.stderr.write(api.report(errors, f"{args.spec} (edited)", edited, writing=True))
        return INVALID
    _write_keeping_mode(args.spec, edited)
    if args.keys_action != "revoke":
        print(value)  # stdout, once: `KEY=$(bifrostc keys rotate alice)`
    done = {"add": "added", "rotate": "rotated", "revoke": "revoked"}[args.keys_action]
    note = " (the key above is shown once; the spec keeps its sha256)" if args.keys_action != "revoke" else ""
    print(f"{done} virtual key {args.name} in {args.spec}{note}", file=sys.stderr)
    if args.out is None:
        print(f"next: bifrostc build {args.spec} -o out (a running gateway reloads it)", file=sys.stderr)
        return OK
    result = api.build(args.spec, args.out)
    sys.stderr.write(api.report(result.validated.diagnostics, str(args.spec), edited, writing=True))
    if not result.validated.ok:
        return INVALID
    print(f"{args.out}: written; a running gateway reloads it", file=sys.stderr)
    return OK


def _write_keeping_mode(path: pathlib.Path, text: str) -> None:
    """Replace the file in one rename, with its permissions."""
    tmp = path.with_name(f".{path.name}.bifrostc-tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(path.stat().st_mode & 0o7777)
    tmp.replace(path)


def _approve_device(args: argparse.Namespace) -> int:
    from bifrostc.compiler.cli import INVALID, OK, _compiled  # cli imports this module: import late
    from bifrostc.runtime.claude_gateway.store import SignInStore, signin_db_path

    gateway = _compiled(args.spec, errors_only=True).gateway
    if gateway is None:
        return INVALID
    if gateway.claude_code.sign_in is None:
        print(f"bifrostc: error: {args.spec} has no claude_code.sign_in", file=sys.stderr)
        return INVALID
    if args.key not in {key.name for key in gateway.virtual_keys}:
        print(f"bifrostc: error: {args.spec} has no virtual key named {args.key!r}", file=sys.stderr)
        return INVALID
    store = SignInStore(signin_db_path(gateway.observability.sqlite_path))
    try:
        approved = asyncio.run(store.decide(args.code, args.key, time.time()))
    finally:
        store.close()
    if not approved:
        print(f"bifrostc: error: no pending sign-in has code {args.code!r} (or it expired)", file=sys.stderr)
        return INVALID
    print(f"approved {args.code} for key {args.key}")
    return OK
