"""Time to a running fit with an empty and with a filled compile cache (jaxdip.compile_cache).

For each model and size, each round starts with an empty cache directory and runs two fresh worker
processes one after the other: ``cold`` (compiles everything and fills the cache) and ``warm``
(finds the programs there). Each worker times what a user of ``jaxdip.fit`` waits for before the
first step: ``init_s`` (``jaxdip.fit.init``, whose state builder is compiled), ``trace_s`` (tracing
and lowering the fitting loop, ``jaxdip.fit._run_chunk``), ``xla_compile_s`` (its XLA compile, or
the cache load) and ``first_run_s`` (its first call, ``--chunk`` steps). Both workers must report
the same loss after the first call (a loaded program computes what a compiled one does). Medians
over ``--rounds``; JAX's cache keeps programs that took at least 1 s to compile (its default).

    python bench/compile_cache.py                       # skip net, 128 and 256, 2 rounds
    python bench/compile_cache.py --quick --out /tmp/c.json   # smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import load_average, machine, version  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "results", "compile_cache_cpu.json")
FIELDS = ("init_s", "trace_s", "xla_compile_s", "first_run_s")


def _worker(model: str, size: int, chunk: int, cache_dir: str) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxdip import compile_cache
    from jaxdip import fit as engine
    from jaxdip.models import DeepDecoder, Skip
    from jaxdip.operators import Identity

    compile_cache.enable(cache_dir)
    jax.block_until_ready(jnp.zeros(()) + 1)  # start the backend
    factory = {"skip": Skip, "deep_decoder": DeepDecoder}[model]
    y = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (size, size, 3)), jnp.float32)
    t0 = time.perf_counter()
    state = engine.init(jax.random.key(0), factory, Identity(y.shape), y)
    jax.block_until_ready(state.packed_params)
    t1 = time.perf_counter()
    carry, data = engine._split(state)
    carry = engine._own(carry)
    max_steps = jnp.asarray(np.iinfo(np.int32).max, jnp.int32)
    lowered = engine._run_chunk.lower(carry, data, chunk, max_steps)
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    carry, aux = jax.block_until_ready(compiled(carry, data, max_steps))
    t4 = time.perf_counter()
    return {"init_s": t1 - t0, "trace_s": t2 - t1, "xla_compile_s": t3 - t2,
            "first_run_s": t4 - t3, "loss": float(aux.loss[-1]),
            "cache_files": len(os.listdir(cache_dir))}


def _run_worker(model: str, size: int, chunk: int, cache_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", model, str(size), str(chunk),
           cache_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {model} {size} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=("skip", "deep_decoder"), default=["skip"])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--chunk", type=int, default=10, help="steps in the compiled loop's first call")
    p.add_argument("--rounds", type=int, default=2, help="cold/warm pairs, each with a new cache")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: Deep Decoder at 64, 1 round (a cold/warm pair in 20 s)")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON output path")
    args = p.parse_args(argv)
    if args.quick:
        args.models, args.sizes, args.chunk, args.rounds = ["deep_decoder"], [64], 2, 1

    load_start = load_average()
    results = []
    for model in args.models:
        for size in args.sizes:
            runs = {"cold": [], "warm": []}
            for _ in range(args.rounds):
                with tempfile.TemporaryDirectory(prefix="jaxdip-bench-cache-") as cache_dir:
                    for kind in ("cold", "warm"):
                        runs[kind].append(_run_worker(model, size, args.chunk, cache_dir))
            losses = {r["loss"] for k in runs for r in runs[k]}
            row = {"model": model, "size": size, "same_loss": len(losses) == 1,
                   "runs": runs}
            for kind in runs:
                for f in FIELDS:
                    row[f"{kind}_{f}"] = statistics.median(r[f] for r in runs[kind])
                row[f"{kind}_to_first_step_s"] = (
                    row[f"{kind}_init_s"] + row[f"{kind}_trace_s"] + row[f"{kind}_xla_compile_s"]
                )
            results.append(row)
            print(f"{model:6s} {size:4d}"
                  f"  init {row['cold_init_s']:.1f} -> {row['warm_init_s']:.1f} s"
                  f"  trace {row['cold_trace_s']:.1f} -> {row['warm_trace_s']:.1f} s"
                  f"  XLA {row['cold_xla_compile_s']:.1f} -> {row['warm_xla_compile_s']:.1f} s"
                  f"  same loss: {row['same_loss']}", flush=True)

    import jax

    from jaxdip.io import write_json

    result = {
        "benchmark": "compile_cache",
        "quick": args.quick,
        "setting": {"chunk": args.chunk, "rounds": args.rounds},
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "machine": machine(load_start=load_start, load_end=load_average()),
        "versions": {d: version(d) for d in ("jax", "jaxlib", "flax", "optax")}
        | {"python": platform.python_version()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "results": results,
    }
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        model, size, chunk, cache_dir = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        print(json.dumps(_worker(model, size, chunk, cache_dir)))
    else:
        main()
