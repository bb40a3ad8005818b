"""Where a fit's resident memory goes, stage by stage, beside the PyTorch port's in the same run.

``step_time.py`` reports three numbers per framework (process peak, base before the first step,
peak while stepping). This script splits jaxdip's into what each stage of a fit adds, to show
which part of the gap to PyTorch is jaxdip's own and which is JAX's. One worker process per
(model, size, framework, round), pinned to ``--threads`` cores (Linux only), with ``step_time.py``'s model,
data and fit state (``_jax_model``, ``_jax_fit_chunk_args``: ``jaxdip.fit``'s compiled chunk of
``--chunk`` steps, its state donated to each call).

Stages (``jax_stages``: resident MB after each, read after glibc's ``malloc_trim``, so memory
the C heap could hand back is not counted): ``backend`` (``import jax``, the CPU client),
``imports`` (flax, jaxdip), ``model`` (the network built eagerly), ``fit_state`` (``fit.init`` and
the donated copy), ``traced``, ``lowered`` and ``compiled`` (the fitting loop:
``_run_chunk.trace / .lower / .compile``; always compiled: the workers run without JAX's
persistent cache). Then ``jax_step_peak_rss_mb``: VmHWM over the calls after the first, as in
``step_time.py`` (what the first call leaves in the C heap after ``malloc_trim`` varies by
100 MB and more between runs, the steps' peak by a few MB, so no stage is taken there).
``jax_outside_xla_mb`` is that peak minus ``compiled`` minus the XLA temporaries: what a step
holds beyond its XLA buffers (the matrix kernels' packing buffers, the chunk's outputs).
``jax_heap``: glibc's ``mallinfo2`` at each stage (``in_use``: allocated, mmapped chunks
included; ``free``: held by the C heap but free), null where the C library is not glibc.
``jax_xla_*_mb``: the compiled loop's own buffers (``memory_analysis()``).

After the steps, what is handed back (``jax_held_mb``, resident MB freed, in this order):
``own_programs`` (jaxdip's compiled state builder, key split and parameter draw, cleared with
their ``clear_cache()``), ``loop_executable`` (``fit._run_chunk.clear_cache()``: the fitting loop's
compiled program) and ``jax_caches`` (``jax.clear_caches()``: what JAX keeps of the traced and
lowered loop, and any other cached program).

With torch installed and ``--frameworks jax torch`` (the default), ``step_time.py``'s PyTorch
worker runs in the same rounds, alternating; ``torch_base_rss_mb`` and ``torch_step_peak_rss_mb``
are its base and peak while stepping. Every field is the median over ``--rounds``.

Usage::

    python bench/memory_breakdown.py                      # skip net at 128 and 256, 3 rounds
    python bench/memory_breakdown.py --models skip deep_decoder --sizes 128 --rounds 5
    python bench/memory_breakdown.py --quick --out /tmp/m.json   # smoke test
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import load_average, machine, version  # noqa: E402
from step_time import (  # noqa: E402  (standard library only at its top level)
    TORCH_MODELS,
    Memory,
    _jax_fit_chunk_args,
    _jax_model,
    _pin,
    _status_mb,
)

DEFAULT_OUT = os.path.join(HERE, "results", "memory_breakdown_cpu.json")
MODELS = ("skip", "deep_decoder", "conv_decoder")
STAGES = ("backend", "imports", "model", "fit_state", "traced", "lowered", "compiled")
HELD = ("own_programs", "loop_executable", "jax_caches")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _trim() -> None:
    """glibc's ``malloc_trim(0)`` where there is one (jaxdip.heap's would import jaxdip, a stage)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _heap_mb() -> dict | None:
    """glibc's heap: bytes allocated (``in_use``, mmapped chunks included) and free but held
    (``free``), MB; None where there is no ``mallinfo2`` (not glibc, or glibc < 2.33)."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError, TypeError):
        return None
    mallinfo2.restype = _MallInfo2
    m = mallinfo2()
    return {"in_use": (m.uordblks + m.hblkhd) / 2**20, "free": m.fordblks / 2**20}


def _worker(model: str, size: int, chunk: int, warmup: int, repeats: int) -> dict:
    import gc

    import jax
    import jax.numpy as jnp

    stages, heap_at = {}, {}

    def resident():
        _trim()
        return _status_mb("VmRSS")

    def stage(name):
        stages[name], heap_at[name] = resident(), _heap_mb()

    jax.block_until_ready(jnp.zeros(()) + 1)  # start the backend
    stage("backend")
    from flax import nnx  # noqa: F401

    from jaxdip import fit as engine
    from jaxdip.models import layers

    stage("imports")
    net, n_params = _jax_model(model, size)
    stage("model")
    carry, data, max_steps = _jax_fit_chunk_args(net, model, size)
    del net
    stage("fit_state")
    traced = engine._run_chunk.trace(carry, data, chunk, max_steps)
    stage("traced")
    lowered = traced.lower()
    stage("lowered")
    compiled = lowered.compile()
    stage("compiled")
    stats = compiled.memory_analysis()
    carry, aux = jax.block_until_ready(compiled(carry, data, max_steps))
    mem = Memory()
    mem.steps_start()
    for _ in range(warmup + repeats):
        carry, aux = jax.block_until_ready(compiled(carry, data, max_steps))
    mem.steps_end()
    loss = float(aux.loss[-1])

    # What each holder hands back, in turn (the loop's program is last referenced by `compiled`).
    del traced, lowered, compiled, carry, aux
    gc.collect()
    held, before = {}, resident()
    for name, clear in (
        ("own_programs", lambda: [f.clear_cache() for f in
                                  (engine._build, engine._split4, layers._uniform_draw)]),
        ("loop_executable", engine._run_chunk.clear_cache),
        ("jax_caches", jax.clear_caches),
    ):
        clear()
        gc.collect()
        after = resident()
        held[name], before = before - after, after
    temp_mb = stats.temp_size_in_bytes / 2**20
    step_peak = mem.step_peak_mb
    return {
        "stages": stages,
        "step_peak": step_peak,
        "heap": heap_at if all(v is not None for v in heap_at.values()) else None,
        "held": held,
        "xla_temp_mb": temp_mb,
        "xla_argument_mb": stats.argument_size_in_bytes / 2**20,
        "xla_output_mb": stats.output_size_in_bytes / 2**20,
        "outside_xla_mb": None if step_peak is None else step_peak - stages["compiled"] - temp_mb,
        "rss_note": mem.note,
        "params": n_params,
        "loss": loss,
    }


def _run(cmd: list[str], what: str) -> dict:
    # A program loaded from JAX's persistent cache is not one compiled here: measure the compile.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _row(model: str, size: int, jax_runs: list[dict], torch_runs: list[dict]) -> dict:
    med = lambda get: _median([get(r) for r in jax_runs])  # noqa: E731
    row = {
        "model": model, "size": size, "params": jax_runs[0]["params"],
        "jax_stages": {s: med(lambda r: r["stages"][s]) for s in STAGES},
        "jax_step_peak_rss_mb": med(lambda r: r["step_peak"]),
        "jax_held_mb": {h: med(lambda r: r["held"][h]) for h in HELD},
        "jax_outside_xla_mb": med(lambda r: r["outside_xla_mb"]),
        "jax_heap": None if jax_runs[0]["heap"] is None else {
            s: {k: med(lambda r: r["heap"][s][k]) for k in ("in_use", "free")} for s in STAGES},
        "jax_runs": jax_runs,
        "torch_base_rss_mb": _median([r["base_rss_mb"] for r in torch_runs]),
        "torch_step_peak_rss_mb": _median([r["step_peak_rss_mb"] for r in torch_runs]),
        "torch_runs": torch_runs,
        "rss_note": jax_runs[0]["rss_note"],
    }
    for k in ("xla_temp_mb", "xla_argument_mb", "xla_output_mb"):
        row[f"jax_{k}"] = jax_runs[0][k]
    return row


def _print_row(row: dict) -> None:
    st = row["jax_stages"]
    added = "  ".join(f"{b} {st[b] - st[a]:+.0f}" for a, b in zip(STAGES, STAGES[1:]))
    held = "  ".join(f"{k} {v:.0f}" for k, v in row["jax_held_mb"].items())
    torch = ("" if row["torch_step_peak_rss_mb"] is None else
             f"  torch {row['torch_step_peak_rss_mb']:.0f} (base {row['torch_base_rss_mb']:.0f})")
    peak = row["jax_step_peak_rss_mb"]
    print(f"{row['model']} {row['size']}: backend {st['backend']:.0f}  {added}  "
          f"step peak {'-' if peak is None else f'{peak:.0f}'}{torch} MB; "
          f"XLA temporaries {row['jax_xla_temp_mb']:.0f}; held: {held}", flush=True)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=MODELS, default=["skip"])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--frameworks", nargs="+", choices=("jax", "torch"), default=["jax", "torch"])
    p.add_argument("--rounds", type=int, default=3, help="worker runs per framework, alternating")
    p.add_argument("--chunk", type=int, default=10, help="steps per compiled call (fit's chunk)")
    p.add_argument("--warmup", type=int, default=2, help="calls after the first, untimed")
    p.add_argument("--repeats", type=int, default=3, help="further calls in the step peak")
    p.add_argument("--threads", type=int, default=2, help="CPU cores/threads for every framework")
    p.add_argument("--quick", action="store_true", help="smoke test: skip net at 32, jax, 1 round")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON output path")
    args = p.parse_args(argv)
    if not sys.platform.startswith("linux"):
        p.error("Linux only: the stages are read from /proc/self/status")
    if args.quick:
        args.models, args.sizes, args.frameworks = ["skip"], [32], ["jax"]
        args.rounds, args.chunk, args.warmup, args.repeats = 1, 2, 0, 1
    if min(args.rounds, args.chunk, args.repeats) < 1 or args.warmup < 0:
        p.error("--rounds, --chunk and --repeats must be >= 1 and --warmup >= 0")
    for s in args.sizes:
        if s < 32 or s % 32:
            p.error(f"--sizes: expected multiples of 32 (5 scales of the skip net), got {s}")
    has_torch = version("torch") is not None
    if "torch" in args.frameworks and not has_torch:
        print("torch is not installed: jaxdip only (torch fields null)", file=sys.stderr)
    load_start = load_average()
    step_time = os.path.join(HERE, "step_time.py")
    rows = []
    for model in args.models:
        for size in args.sizes:
            torch_ok = (has_torch and "torch" in args.frameworks and model in TORCH_MODELS
                        and not (model == "skip" and size < 64))  # BatchNorm on a 1x1 map
            jax_runs, torch_runs = [], []
            for _ in range(args.rounds):
                common = [model, str(size), "--warmup", str(args.warmup), "--repeats",
                          str(args.repeats), "--threads", str(args.threads)]
                jax_runs.append(_run([sys.executable, os.path.abspath(__file__), "--worker",
                                      *common, "--chunk", str(args.chunk)], f"jax {model} {size}"))
                if torch_ok:
                    torch_runs.append(_run([sys.executable, step_time, "--worker", "torch",
                                            *common], f"torch {model} {size}"))
            rows.append(_row(model, size, jax_runs, torch_runs))
            _print_row(rows[-1])

    import jax

    from jaxdip.io import write_json

    result = {
        "benchmark": "memory_breakdown",
        "quick": args.quick,
        "setting": {"chunk": args.chunk, "rounds": args.rounds, "warmup": args.warmup,
                    "repeats": args.repeats, "threads": args.threads},
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "machine": machine(load_start=load_start, load_end=load_average()),
        "versions": {d: version(d) for d in ("jax", "jaxlib", "flax", "optax", "torch")}
        | {"python": platform.python_version(), "glibc": "-".join(platform.libc_ver())},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "results": rows,
    }
    write_json(args.out, result)
    return result


def _worker_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("size", type=int)
    for name in ("--warmup", "--repeats", "--threads", "--chunk"):
        p.add_argument(name, type=int, required=True)
    a = p.parse_args(argv)
    _pin(a.threads)
    print(json.dumps(_worker(a.model, a.size, a.chunk, a.warmup, a.repeats)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
    else:
        main()
