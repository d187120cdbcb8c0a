"""Write an out/routing.py for the bench gateway without the compiler (used only when `bifrostc build` is absent).

The config dataclasses' reprs are valid Python, so the module is those literals plus the header constants
runtime/loadout.py checks. The real path is `bifrostc build bench/gateway.yaml`; this keeps the harness usable
while the compiler is being written.
"""

from __future__ import annotations

from pathlib import Path

from bifrostc.runtime import config


def bench_gateway(upstream_url: str) -> config.Gateway:
    provider = config.Provider(
        name="fake",
        type="openai",
        base_url=f"{upstream_url}/v1",
        keys=(config.KeyRef(env="BENCH_UPSTREAM_KEY"),),
        network=config.Network(max_retries=0),
    )
    route = config.Route(name="bench-openai", targets=(config.Target(provider="fake", model="gpt-bench"),))
    return config.Gateway(
        providers={"fake": provider},
        routes={"bench-openai": route},
        observability=config.Observability(log_store="none", metrics=True),
    )


def write_routing(out: Path, upstream_url: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    names = ", ".join(sorted(n for n in dir(config) if n[:1].isupper() and n != "FORMAT_VERSION"))
    text = (
        '"""Bench routing module written by bench/fallback_out.py (no compiler available)."""\n\n'
        f"from bifrostc.runtime.config import {names}\n\n"
        f"FORMAT_VERSION = {config.FORMAT_VERSION}\n"
        'SOURCE_SHA256 = "bench-fallback"\n\n'
        f"GATEWAY = {bench_gateway(upstream_url)!r}\n"
    )
    path = out / "routing.py"
    path.write_text(text)
    return path
