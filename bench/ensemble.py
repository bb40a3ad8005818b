"""Throughput of seed ensembles: K members as one vmapped program against K sequential fits.

For each K the same denoising problem (one image, one operator, same steps, same Skip generator,
Adam lr 0.01, input jitter 1/30, output EMA 0.99) is fitted

* vmapped: one :func:`jaxdip.ensemble.fit_ensemble` call with K keys (``progress=False``);
* sequentially: K :func:`jaxdip.fit.fit` calls, one per key.

Both use the same ``chunk`` (steps per compiled ``lax.scan``), and neither gets ``x_true`` (no PSNR
or SSIM work inside the timing). Compile time is excluded: before timing, each program is run once
for one chunk with the same shapes (``fit_ensemble`` compiles one program per K; the sequential fit
compiles once). For each K, vmapped and sequential runs alternate ``--repeats`` times so that both
see the same machine load, and the best time of each is kept. Reported per K:

* ``vmapped_member_steps_per_s = K * steps / t_vmapped`` and ``sequential_member_steps_per_s``;
* ``speedup`` = vmapped / sequential throughput;
* ``vmapped_init_s`` / ``sequential_init_s``: the eager set-up inside those times (model build and
  first forward pass: once for the ensemble, K times sequentially) and ``speedup_excluding_init``;
* ``vmapped_first_call_s`` / ``sequential_first_call_s``: the warm-up calls (trace + compile + one
  chunk), and ``*_compile_s``: the same minus the chunk's share of the timed run.

Default setting: 64x64 RGB astronaut, Gaussian noise 25/255, Skip with 5 scales of 32 channels
(skip 4), 40 steps in chunks of 20, K = 1, 2, 4, 8, best of 2. Chosen to keep the run short on a
2-core CPU: the timed work takes about a minute, but the five compilations (one per K plus the
sequential fit; about 60 s each at a load average of 4-5, 100 s at 6-10) bring the whole run to
about 6 minutes (10 on a busier machine); fewer ``--ks`` or ``--scales`` shorten it. Times are
wall-clock; the load average (``os.getloadavg``) is recorded because a shared machine makes them
noisy.

Usage::

    python bench/ensemble.py                          # writes bench/results/ensemble_cpu.json
    python bench/ensemble.py --size 128 --width 64 --steps 100
    python bench/ensemble.py --quick --out /tmp/ens.json   # smoke test: K = 1, 2, tiny net
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

from _common import load_average, machine, version

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "results", "ensemble_cpu.json")
TARGET_SPEEDUP_K8 = 1.2


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(args) -> dict:
    import jax
    import numpy as np
    import optax

    from jaxdip.ensemble import fit_ensemble
    from jaxdip.fit import fit, init
    from jaxdip.tasks import make_model, make_problem

    problem = make_problem("denoise", jax.random.key(0), size=args.size)
    model = make_model("skip", problem.out_channels, width=args.width, scales=args.scales)
    options = dict(problem.fit_options, optimizer=optax.adam(0.01))
    op, y = problem.operator, problem.y
    steps, chunk = args.steps, args.chunk

    def vmapped(keys, n):
        ens = fit_ensemble(keys, model, op, y, steps=n, chunk=chunk, progress=False, **options)
        jax.block_until_ready(ens.members)

    def sequential(keys, n):
        for key in keys:
            res = fit(key, model, op, y, steps=n, chunk=chunk, progress=False, **options)
            jax.block_until_ready(res.x)

    def init_members(keys):  # the eager per-call set-up that fit / fit_ensemble do first
        jax.block_until_ready(jax.vmap(lambda k: init(k, model, op, y, **options))(keys).z)

    # The sequential program is the same for every K: compile it once (one chunk).
    seq_first = _timed(lambda: sequential(jax.random.split(jax.random.key(99), 1), chunk))
    init_one = jax.random.key(98)
    seq_init = _timed(lambda: jax.block_until_ready(init(init_one, model, op, y, **options).z))
    rows = []
    for k in args.ks:
        keys = jax.random.split(jax.random.key(k), k)
        warm_keys = jax.random.split(jax.random.key(1000 + k), k)
        load_before = load_average()
        vmap_first = _timed(lambda: vmapped(warm_keys, chunk))  # compiles the K-member program
        vmap_times, seq_times = [], []
        for _ in range(args.repeats):  # alternate, so that both see the same load; keep the best
            vmap_times.append(_timed(lambda: vmapped(keys, steps)))
            seq_times.append(_timed(lambda: sequential(keys, steps)))
        t_vmap, t_seq = min(vmap_times), min(seq_times)
        t_vinit = _timed(lambda: init_members(keys))
        member_steps = k * steps
        row = {
            "K": k,
            "member_steps": member_steps,
            "vmapped_s": t_vmap,
            "sequential_s": t_seq,
            "vmapped_times_s": vmap_times,
            "sequential_times_s": seq_times,
            "vmapped_member_steps_per_s": member_steps / t_vmap,
            "sequential_member_steps_per_s": member_steps / t_seq,
            "speedup": t_seq / t_vmap,
            "vmapped_init_s": t_vinit,
            "sequential_init_s": k * seq_init,
            "speedup_excluding_init": (t_seq - k * seq_init) / max(t_vmap - t_vinit, 1e-9),
            "vmapped_first_call_s": vmap_first,
            "vmapped_compile_s": max(0.0, vmap_first - t_vmap * chunk / steps),
            "load_before": load_before,
            "load_after": load_average(),
        }
        rows.append(row)
        print(
            f"K={k:2d}  vmapped {row['vmapped_member_steps_per_s']:7.1f} member-steps/s  "
            f"sequential {row['sequential_member_steps_per_s']:7.1f}  "
            f"speedup {row['speedup']:.2f}x  compile {row['vmapped_compile_s']:.1f} s  "
            f"load {row['load_after'][:1]}",
            flush=True,
        )
    seq_step_s = float(np.median([r["sequential_s"] / r["member_steps"] for r in rows]))
    k8 = [r for r in rows if r["K"] == 8]
    return {
        "benchmark": "ensemble",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_start=args.load_start, load_end=load_average()),
        "device": str(jax.devices()[0].device_kind),
        "backend": jax.default_backend(),
        "versions": {
            "python": platform.python_version(),
            "jax": version("jax"),
            "jaxlib": version("jaxlib"),
            "flax": version("flax"),
            "optax": version("optax"),
        },
        "setting": {
            "task": "denoise",
            "image": "astronaut",
            "size": args.size,
            "noise_sigma": 25 / 255,
            "model": "skip",
            "width": args.width,
            "scales": args.scales,
            "skip_channels": 4,
            "steps": steps,
            "chunk": chunk,
            "optimizer": "adam(0.01)",
            "fit_options": dict(problem.fit_options),
            "repeats": args.repeats,
            "timing": "wall clock per call, best of `repeats` alternating runs; compile excluded by "
            "a one-chunk warm-up with the same shapes; sequential = K jaxdip.fit.fit calls, "
            "vmapped = one fit_ensemble call",
        },
        "sequential_first_call_s": seq_first,
        "sequential_compile_s": max(0.0, seq_first - seq_step_s * chunk),
        "sequential_init_s_per_member": seq_init,
        "target": {
            "speedup_at_K8": TARGET_SPEEDUP_K8,
            "met": (k8[0]["speedup"] >= TARGET_SPEEDUP_K8) if k8 else None,
        },
        "results": rows,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8], help="ensemble sizes K")
    p.add_argument("--size", type=int, default=64, help="image side (multiple of 2**scales)")
    p.add_argument("--width", type=int, default=32, help="Skip channels per scale")
    p.add_argument("--scales", type=int, default=5, help="Skip scales")
    p.add_argument("--steps", type=int, default=40, help="timed steps per member")
    p.add_argument("--chunk", type=int, default=20, help="steps per compiled lax.scan chunk")
    p.add_argument("--repeats", type=int, default=2, help="timed runs per K and form (best kept)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: K 1 2, 16x16, 1 scale of width 4, 2 steps")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON output path")
    args = p.parse_args(argv)
    if args.quick:
        args.ks, args.size, args.width, args.scales, args.steps, args.chunk = [1, 2], 16, 4, 1, 2, 1
        args.repeats = 1
    if args.size % 2**args.scales:
        p.error(f"--size: expected a multiple of 2**scales = {2**args.scales}, got {args.size}")
    if min(*args.ks, args.steps, args.chunk, args.repeats) < 1 or args.steps % args.chunk:
        p.error(
            f"--ks, --steps, --chunk, --repeats: expected positive integers with --steps a "
            f"multiple of --chunk, got {args.ks}, {args.steps}, {args.chunk}, {args.repeats}"
        )
    args.load_start = load_average()

    from jaxdip.io import write_json

    result = bench(args)
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
