"""Instructions per gateway request, counted by valgrind's callgrind: a steady measure for A/B-ing one change.

CPU time on this machine moves 10-30% from run to run (bench/RESULTS.md), more than most single changes save;
callgrind counts the instructions the gateway process executes (its threads included, the fake upstream not),
which repeat within ~1-2%. Each case runs `inproc.py` twice under callgrind, with `--requests N` and `3N`;
the difference divided by 2N is the cost of one request, start-up and warm-up taken out.
Run: python bench/instructions.py [--case oo --case aos ...] [--requests 160] [--concurrency 8] [--wiring full]
To compare two trees, run it once per tree (PYTHONPATH pointing at the other tree's `bifrostc` namespace).
Needs valgrind (Debian's package); ~40x slower than native, so keep N small.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from inproc import CASES

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(rb"Collected : (\d+)")


def instructions(case: str, requests: int, concurrency: int, wiring: str, extra: list[str]) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, str(HERE / "inproc.py"), "--case", case, "--requests", str(requests),
        "--concurrency", str(concurrency), "--wiring", wiring, *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts and set orders every run
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{case}: inproc.py under callgrind failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: oo")
    parser.add_argument("--requests", type=int, default=160, help="N: the runs make N and 3N requests")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--wiring", choices=["bare", "full"], default="full")
    parser.add_argument("--upstream-events", type=int, default=0, help="passed to inproc.py")
    parser.add_argument(
        "--upstream-gap-ms", type=float, default=0.0, help="passed to inproc.py (callgrind runs ~40x slower)"
    )
    args = parser.parse_args()
    extra = ["--upstream-events", str(args.upstream_events)] if args.upstream_events else []
    extra += ["--upstream-gap-ms", str(args.upstream_gap_ms)] if args.upstream_gap_ms else []
    for case in args.case or ["oo"]:
        low = instructions(case, args.requests, args.concurrency, args.wiring, extra)
        high = instructions(case, 3 * args.requests, args.concurrency, args.wiring, extra)
        per_request = (high - low) / (2 * args.requests)
        print(f"{args.wiring:5s} {case:10s} {per_request / 1000:9.1f} k instructions per request", flush=True)


if __name__ == "__main__":
    main()
