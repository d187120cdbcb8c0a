"""Per-request cost of each post-request hook of the full `bifrostc serve` wiring, in µs (timeit, one core).

Captures one real request's LogRecord through the in-process app (bench/inproc.py), then times the pieces of
TelemetryHooks.on_log and the SQLite sink's batch write on copies of it.
Run: python bench/hook_costs.py [--case oo|cc-first|...] (bench/inproc.py's cases; the body sizes the scrub)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import timeit
from pathlib import Path
from typing import Any

from inproc import CASES, build_app, lifespan, one_request
from processes import build_out, start_upstream, stop

N = 2000


def per_call_us(fn: Any, number: int = N) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


async def capture(app: Any, case: str) -> tuple[Any, Any]:
    parts = app.state.parts
    rt = app.state.runtime
    captured: list[Any] = []
    original = rt.hooks.on_log

    async def keep(record: Any) -> None:
        captured.append(record)
        await original(record)

    rt.hooks.on_log = keep
    await one_request(app, CASES[case])
    rt.hooks.on_log = original
    return captured[0], parts


async def main(case: str) -> None:
    from bifrostc.runtime.governance.pricing import PriceBook
    from bifrostc.runtime.observability.log_hooks import record_from_log

    os.environ.setdefault("BENCH_UPSTREAM_KEY", "sk-bench")
    upstream, port = await start_upstream()
    try:
        with tempfile.TemporaryDirectory(prefix="bifrostc-hooks-") as tmp:
            app = build_app(build_out(Path(tmp), f"http://127.0.0.1:{port}"), "full")
            async with lifespan(app):
                log, parts = await capture(app, case)
                telemetry = parts.telemetry
                hooks = app.state.runtime.hooks
                gateway = app.state.runtime.gateway
                prices = PriceBook(gateway.pricing)  # TelemetryHooks keeps one per gateway
                record = record_from_log(log, prices=prices)
                rows = {
                    "log_hooks.record_from_log": lambda: record_from_log(log, prices=prices),
                    "records.RequestRecord.scrub (in the sink)": lambda: record_from_log(log, prices=prices).scrub(),
                    "metrics.GatewayMetrics.observe": lambda: telemetry.metrics.observe(record),
                    "telemetry tracer.record": lambda: telemetry.tracer.record(record),
                }
                ctx = log.context
                rows["governance authenticate (no keys)"] = lambda: parts.governor.authenticate(ctx.headers)
                timings = {name: per_call_us(fn) for name, fn in rows.items()}
                # scrub is timed on a fresh record each call: take record_from_log's share out
                timings["records.RequestRecord.scrub (in the sink)"] -= timings["log_hooks.record_from_log"]
                for name, cost in timings.items():
                    print(f"{cost:8.1f} µs  {name}")
                store = telemetry.sink.store
                for size in (1, 8, 64):
                    batch = [record_from_log(log, prices=prices).scrub() for _ in range(size)]
                    cost = await _timed_async(lambda b=batch: store.write_batch(b), 2000 // size) / size
                    print(f"{cost:8.1f} µs  sink store.write_batch per record, batches of {size} (CPU incl. threads)")
                print(f"hooks object: {type(hooks).__name__}")
    finally:
        stop(upstream)
        await upstream.wait()


async def _timed_async(make: Any, rounds: int) -> float:
    import time

    cpu = time.process_time()
    for _ in range(rounds):
        await make()
    return (time.process_time() - cpu) / rounds * 1e6


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), default="oo")
    asyncio.run(main(parser.parse_args().case))
