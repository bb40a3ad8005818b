"""Step time of jaxdip generators against their PyTorch ports, side by side on one machine.

One step = forward, MSE loss against a fixed target, backward, Adam update (lr 0.01), on one image.
Every (model, size, framework) runs in a fresh subprocess pinned to the same CPU cores with the same
thread count, so peak memory (``ru_maxrss``) is that run's own. Inputs and targets are the same
numbers for both frameworks (numpy, seed 0). Reported per (model, size):

* ``jax_s`` / ``torch_s``: median seconds per step over ``--repeats`` steps after ``--warmup``
  untimed steps; ``ratio = jax_s / torch_s`` (null when torch is missing or has no port);
* ``jax_compile_s``: wall time of the first call of the jitted step (trace + compile + run);
  ``torch_first_step_s``: the first eager step, for comparison;
* ``jax_peak_rss_mb`` / ``torch_peak_rss_mb``: peak resident memory of the subprocess.

Usage::

    python bench/step_time.py                       # skip, deep_decoder, conv_decoder at 128, 256
    python bench/step_time.py --sizes 128 256 512 --models skip --repeats 5
    python bench/step_time.py --quick --sizes 32 --frameworks jax --out /tmp/t.json

Results go to ``bench/results/step_time_cpu.json`` (written atomically) unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "results", "step_time_cpu.json")
MODELS = ("skip", "deep_decoder", "conv_decoder")
TORCH_MODELS = ("skip", "deep_decoder")


def _pin(threads: int) -> None:
    """Use the first ``threads`` cores of this process's affinity set (Linux), else nothing."""
    if hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cores)


def _data(model: str, size: int):
    """Input code and target (numpy float32, HWC) shared by both frameworks."""
    import numpy as np

    rng = np.random.default_rng(0)
    if model == "skip":
        z = rng.uniform(0, 0.1, (size, size, 32))
        y = rng.uniform(0, 1, (size, size, 3))
    elif model == "deep_decoder":
        z = rng.uniform(0, 0.1, (size // 32, size // 32, 64))
        y = rng.uniform(0, 1, (size, size, 3))
    else:
        z = rng.uniform(0, 1, (8, 4, 160))
        y = rng.normal(0, 1, (size, size, 2))
    return z.astype(np.float32), y.astype(np.float32)


def _peak_rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def _worker_jax(model: str, size: int, warmup: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from jaxdip.models.conv_decoder import ConvDecoder
    from jaxdip.models.deep_decoder import DeepDecoder
    from jaxdip.models.skip import Skip

    rngs = nnx.Rngs(0)
    if model == "skip":
        net = Skip(rngs=rngs)
    elif model == "deep_decoder":
        net = DeepDecoder(rngs=rngs)
    else:
        net = ConvDecoder(out_hw=(size, size), rngs=rngs)
    graphdef, params = nnx.split(net, nnx.Param)
    z, y = (jnp.asarray(a) for a in _data(model, size))
    opt = optax.adam(0.01)
    opt_state = opt.init(params)

    def loss_fn(p):
        out = nnx.merge(graphdef, p)(z)
        return jnp.mean((out - y) ** 2)

    @jax.jit
    def step(p, s):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    t0 = time.perf_counter()
    params, opt_state, loss = jax.block_until_ready(step(params, opt_state))
    compile_s = time.perf_counter() - t0
    for _ in range(warmup):
        params, opt_state, loss = jax.block_until_ready(step(params, opt_state))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        params, opt_state, loss = jax.block_until_ready(step(params, opt_state))
        times.append(time.perf_counter() - t0)
    return {"times": times, "first_s": compile_s, "loss": float(loss)}


def _worker_torch(model: str, size: int, warmup: int, repeats: int, threads: int) -> dict:
    import torch

    sys.path.insert(0, HERE)
    from torch_skip import TorchDeepDecoder, skip_net

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = skip_net() if model == "skip" else TorchDeepDecoder().train()
    z, y = (torch.from_numpy(a).permute(2, 0, 1)[None].contiguous() for a in _data(model, size))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((net(z) - y) ** 2)
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    step()
    first_s = time.perf_counter() - t0
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    return {"times": times, "first_s": first_s, "loss": loss.item()}


def _run_worker(framework, model, size, args) -> dict | None:
    cmd = [
        sys.executable, os.path.abspath(__file__), "--worker", framework, model, str(size),
        "--warmup", str(args.warmup), "--repeats", str(args.repeats), "--threads", str(args.threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{framework} {model} {size} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _write_atomic(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="image sizes (default 128 256)")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--frameworks", nargs="+", choices=("jax", "torch"), default=["jax", "torch"])
    p.add_argument("--repeats", type=int, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps after the first")
    p.add_argument("--threads", type=int, default=2, help="CPU cores/threads for both frameworks")
    p.add_argument("--quick", action="store_true", help="smoke test: size 32, 1 repeat, no warm-up")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON output path")
    p.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = 1, 0
        args.sizes = args.sizes or [32]
    args.sizes = args.sizes or [128, 256]
    for s in args.sizes:
        if s < 32 or s % 32:
            p.error(f"--sizes: expected multiples of 32 (5 scales of the skip net), got {s}")

    if args.worker:
        framework, model, size = args.worker[0], args.worker[1], int(args.worker[2])
        _pin(args.threads)
        if framework == "jax":
            res = _worker_jax(model, size, args.warmup, args.repeats)
        else:
            res = _worker_torch(model, size, args.warmup, args.repeats, args.threads)
        res["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(res))
        return res

    import jax

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    has_torch = _version("torch") is not None
    if "torch" in args.frameworks and not has_torch:
        print("torch is not installed: timing jaxdip only (ratios null)", file=sys.stderr)
    rows = []
    for model in args.models:
        for size in args.sizes:
            j = _run_worker("jax", model, size, args) if "jax" in args.frameworks else None
            t = None
            # BatchNorm in training mode needs more than one pixel at the coarsest scale.
            torch_ok = model in TORCH_MODELS and not (model == "skip" and size < 64)
            if "torch" in args.frameworks and has_torch and torch_ok:
                t = _run_worker("torch", model, size, args)
            row = {
                "model": model,
                "size": size,
                "jax_s": _median(j["times"]) if j else None,
                "torch_s": _median(t["times"]) if t else None,
                "ratio": None,
                "jax_compile_s": j["first_s"] if j else None,
                "torch_first_step_s": t["first_s"] if t else None,
                "jax_peak_rss_mb": j["peak_rss_mb"] if j else None,
                "torch_peak_rss_mb": t["peak_rss_mb"] if t else None,
                "jax_times": j["times"] if j else None,
                "torch_times": t["times"] if t else None,
            }
            if j and t:
                row["ratio"] = row["jax_s"] / row["torch_s"]
            rows.append(row)
            fmt = lambda v, f="{:.3f}": "-" if v is None else f.format(v)  # noqa: E731
            print(
                f"{model:13s} {size:4d}  jax {fmt(row['jax_s'])} s  torch {fmt(row['torch_s'])} s  "
                f"ratio {fmt(row['ratio'], '{:.2f}')}  compile {fmt(row['jax_compile_s'], '{:.1f}')} s  "
                f"rss jax {fmt(row['jax_peak_rss_mb'], '{:.0f}')} MB "
                f"torch {fmt(row['torch_peak_rss_mb'], '{:.0f}')} MB",
                flush=True,
            )
    result = {
        "benchmark": "step_time",
        "step": "forward + MSE + backward + Adam(lr 0.01), one image",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            # 1-minute load averages before and after: timings are only comparable on a quiet machine.
            "load_avg_1min_before": load_before[0] if load_before else None,
            "load_avg_1min_after": os.getloadavg()[0] if load_before else None,
        },
        "device": str(jax.devices()[0].device_kind),
        "backend": jax.default_backend(),
        "threads": args.threads,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "versions": {
            "python": platform.python_version(),
            "jax": _version("jax"),
            "jaxlib": _version("jaxlib"),
            "flax": _version("flax"),
            "optax": _version("optax"),
            "torch": _version("torch"),
        },
        "results": rows,
    }
    _write_atomic(args.out, result)
    return result


if __name__ == "__main__":
    main()
