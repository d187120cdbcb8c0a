"""`bifrostc keys approve-device CODE --key NAME`: approve a pending Claude Code sign-in from the terminal.

For an operator helping a developer without a browser at hand: the code their `/login` shows is approved
exactly as the verification page would approve it, bound to virtual key NAME, in the sign-in database of the
spec's gateway (next to its log database; run it where `bifrostc serve` runs).
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
