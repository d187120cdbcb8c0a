"""Regenerate every golden out/ tree: the only way files under tests/golden/cases/*/expected change.

python tests/golden/regen.py      (or: make regen)
"""

from __future__ import annotations

import pathlib
import shutil
import sys

from bifrostc.compiler import api

CASES = pathlib.Path(__file__).resolve().parent / "cases"


def regenerate(case: pathlib.Path) -> bool:
    expected = case / "expected"
    result = api.compile_spec(case / "gateway.yaml", environ={})
    if not result.validated.ok:
        print(f"{case.name}: spec is invalid; fix it first", file=sys.stderr)
        return False
    shutil.rmtree(expected, ignore_errors=True)
    api.build(case / "gateway.yaml", expected, environ={})
    print(f"{case.name}: regenerated")
    return True


def main() -> int:
    results = [regenerate(case) for case in sorted(CASES.iterdir()) if case.is_dir()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
