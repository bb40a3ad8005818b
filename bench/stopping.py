"""Early stopping inside the compiled loop: per-step overhead of each rule and a detection study.

Part 1, overhead. The same DIP denoising fit (Skip, ``--width`` channels, ``--scales`` scales, 4 skip
channels, Adam 0.01, Gaussian noise 25/255 on the astronaut at ``--sizes``) is run as one jitted
:func:`jaxdip.fit.run` chunk of ``--chunk`` steps with no rule, ES-WMV (W 100), ES-EMV (alpha 0.1)
and self-validation (the paper's AE buffer 256, batch 32) carried in the state. Each configuration
is compiled and run once untimed; then ``--repeats`` rounds time every configuration once, in an
order that rotates from round to round so that all see the same machine noise. Reported: median
seconds per step and ``overhead_pct = 100 (t_rule / t_none - 1)``, from wall-clock time and, as
``cpu_overhead_pct``, from the process CPU time (all XLA threads; far less sensitive than wall time
to other jobs on a shared machine). Targets: EMV <= 1%, WMV <= 5%.

Part 2, detection study. ``--images`` (RGB images with 3 channels, grey ones with 1) x
{gaussian, shot (Poisson), impulse (salt and pepper), speckle} x {low, high}, at ``--study-size``
pixels with a Skip of ``--study-width`` channels and ``--study-scales`` scales, plain DIP (Adam 0.01,
MSE, no input jitter, no output averaging), ``--study-steps`` steps. Noise levels (the Gaussian ones
from the ES study, the others chosen to give a comparable noise std at mid-grey 0.5):

    gaussian  std 0.12 / 0.26
    shot      Poisson(photons * x) / photons, photons 35 / 7.5  (std sqrt(0.5/photons) = 0.12 / 0.26)
    impulse   salt and pepper, fraction 0.1 / 0.3 of the entries replaced
    speckle   x + x n, n ~ N(0, s^2), s 0.24 / 0.52  (std 0.12 / 0.26 at 0.5)

All cases of one channel count are fitted together: ``jax.vmap(init)`` over (key, y, x_true) and
``jax.jit(jax.vmap(run))`` in chunks. The rules ride in the fit state as one composite rule that
updates every variant (ES-WMV and ES-EMV at several window/patience settings) on each step's output
and never halts the fit, so each case runs all steps and its full PSNR curve is known; each rule's
detection is frozen when its own patience runs out (as in :mod:`jaxdip.stopping`), so it is exactly
the detection of a fit that halts there. Gap = max over steps of PSNR(x_t) - PSNR(x_detected), from
the engine's per-step PSNR history (the Oracle's step is the argmax). The reference defaults
(W 100, P 1000, EMV start 100, for up to 5000 steps) are scaled to the shorter runs: patience as the
same fraction of the run (P = steps / 5), window steps / 25, EMV start steps / 50 (see
:func:`variants`; at 500 steps: P 100, W 20, start 10).
Summary per variant: median and 90th percentile of the gap, overall and per noise type and level.

Usage::

    python bench/stopping.py                              # writes bench/results/stopping_cpu.json
    python bench/stopping.py --parts study --study-steps 1500
    python bench/stopping.py --quick --out /tmp/stop.json   # smoke test: tiny nets, 1 image
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

from _common import load_average, machine, version

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "results", "stopping_cpu.json")
TARGET_OVERHEAD_PCT = {"EMV": 1.0, "WMV": 5.0}
TARGET_MEDIAN_GAP_DB = 1.0

NOISE_LEVELS = {
    "gaussian": {"low": 0.12, "high": 0.26},
    "shot": {"low": 35.0, "high": 7.5},
    "impulse": {"low": 0.1, "high": 0.3},
    "speckle": {"low": 0.24, "high": 0.52},
}
NOISE_PARAMETER = {"gaussian": "std", "shot": "photons", "impulse": "fraction", "speckle": "std"}


def variants(steps: int) -> dict:
    """Rule variants of the study, scaled to ``steps``: name -> (kind, options).

    The reference (W 100, P 1000, EMV alpha 0.1 checked after step 100, runs up to 5000 steps) is
    scaled to a shorter run: patience as a fraction of the run, P = steps / 5 (``*-ref``);
    window W = steps / 25 and EMV start = steps / 50 (the small images of the study peak within
    the first 20-100 steps, so the reference's W / steps = 1/50 window would be too short to
    smooth and a start at step 100 would miss the peak). The other variants change one thing:
    half the window, alpha 0.05, or twice the patience (steps / 2.5).
    """
    p = max(2, steps // 5)
    p_long = max(2, int(steps / 2.5))
    w = max(2, min(100, steps // 25))
    start = max(1, min(100, steps // 50))
    return {
        "WMV-ref": ("WMV", {"window": w, "patience": p}),
        "WMV-half-window": ("WMV", {"window": max(2, w // 2), "patience": p}),
        "WMV-long-patience": ("WMV", {"window": w, "patience": p_long}),
        "EMV-ref": ("EMV", {"alpha": 0.1, "patience": p, "start": start}),
        "EMV-alpha0.05": ("EMV", {"alpha": 0.05, "patience": p, "start": start}),
        "EMV-long-patience": ("EMV", {"alpha": 0.1, "patience": p_long, "start": start}),
    }


def _make_watch():
    """A composite rule updating several rules on every step; it never halts the fit."""
    import jax.numpy as jnp

    from jaxdip.operators.base import operator_dataclass
    from jaxdip.stopping import StoppingRule

    @operator_dataclass
    class Watch(StoppingRule):
        rules: tuple

        def init(self, key, x0):
            return tuple(r.init(key, x0) for r in self.rules)

        def update(self, state, x, step):
            return tuple(r.update(s, x, step) for r, s in zip(self.rules, state))

        def should_stop(self, state):
            return jnp.zeros((), bool)

        def detected(self, state):
            return state[0].track.best_step, state[0].track.best_x

        def score(self, state):
            return state[0].score

    return Watch


# --------------------------------------------------------------------------------------------
# Part 1: overhead
# --------------------------------------------------------------------------------------------


def overhead(args) -> dict:
    import jax
    import numpy as np
    import optax

    from jaxdip.data import load_image
    from jaxdip.fit import init, run
    from jaxdip.noise import gaussian
    from jaxdip.operators.identity import Identity
    from jaxdip.stopping import EMV, WMV, SelfValidation
    from jaxdip.tasks import make_model

    rules = {"none": None, "WMV": WMV(**args.wmv), "EMV": EMV(**args.emv)}
    if not args.no_sv:
        rules["SV"] = SelfValidation(**args.sv)
    names = list(rules)
    run_jit = jax.jit(run, static_argnums=1)
    model = make_model("skip", 3, width=args.width, scales=args.scales)
    optimizer = optax.adam(0.01)
    rows = []
    for size in args.sizes:
        x_true = load_image("astronaut", size)
        y = gaussian(jax.random.key(1), x_true, 25 / 255)
        op = Identity(x_true.shape)
        states, first = {}, {}
        for name in names:
            states[name] = init(
                jax.random.key(0), model, op, y, optimizer=optimizer, stopping=rules[name]
            )
            t0 = time.perf_counter()
            jax.block_until_ready(run_jit(states[name], args.chunk))
            first[name] = time.perf_counter() - t0
            print(f"  {size}px {name}: first call {first[name]:.1f} s", flush=True)
        times = {name: [] for name in names}
        cpu = {name: [] for name in names}
        load_before = load_average()
        for r in range(args.repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                t0, c0 = time.perf_counter(), time.process_time()
                jax.block_until_ready(run_jit(states[name], args.chunk))
                cpu[name].append((time.process_time() - c0) / args.chunk)
                times[name].append((time.perf_counter() - t0) / args.chunk)
        med = {name: float(np.median(v)) for name, v in times.items()}
        med_cpu = {name: float(np.median(v)) for name, v in cpu.items()}
        rules_only = [n for n in names if n != "none"]
        row = {
            "size": size,
            "s_per_step": med,
            "s_per_step_all": times,
            "overhead_pct": {n: 100.0 * (med[n] / med["none"] - 1.0) for n in rules_only},
            "cpu_s_per_step": med_cpu,
            "cpu_s_per_step_all": cpu,
            "cpu_overhead_pct": {n: 100.0 * (med_cpu[n] / med_cpu["none"] - 1.0) for n in rules_only},
            "first_call_s": first,
            "load_before": load_before,
            "load_after": load_average(),
        }
        rows.append(row)
        print(
            f"{size}px: plain {med['none'] * 1e3:.1f} ms/step; overhead "
            + ", ".join(f"{n} {v:+.2f}%" for n, v in row["overhead_pct"].items())
            + "; process CPU time: "
            + ", ".join(f"{n} {v:+.2f}%" for n, v in row["cpu_overhead_pct"].items()),
            flush=True,
        )
    met = {
        n: {
            "wall": all(r["overhead_pct"][n] <= t for r in rows),
            "cpu": all(r["cpu_overhead_pct"][n] <= t for r in rows),
        }
        for n, t in TARGET_OVERHEAD_PCT.items()
    }
    return {
        "setting": {
            "image": "astronaut (RGB)",
            "sizes": args.sizes,
            "model": "skip",
            "width": args.width,
            "scales": args.scales,
            "skip_channels": 4,
            "noise": "gaussian 25/255",
            "optimizer": "adam(0.01)",
            "chunk": args.chunk,
            "repeats": args.repeats,
            "rules": {n: (None if r is None else f"{type(r).__name__}{_fields(r)}")
                      for n, r in rules.items()},
            "timing": "jax.jit(jaxdip.fit.run)(state, chunk): wall clock and process CPU time "
            "per step; first call (compile) excluded; median over repeats, configurations "
            "rotated each round",
        },
        "target_pct": TARGET_OVERHEAD_PCT,
        "target_met": met,
        "results": rows,
    }


def _fields(rule) -> dict:
    import dataclasses

    return {f.name: getattr(rule, f.name) for f in dataclasses.fields(rule)}


# --------------------------------------------------------------------------------------------
# Part 2: detection study
# --------------------------------------------------------------------------------------------


def _noisy(key, x, noise: str, level: float):
    from jaxdip import noise as nz

    if noise == "gaussian":
        return nz.gaussian(key, x, level)
    if noise == "shot":
        return nz.poisson(key, x, level)
    if noise == "impulse":
        return nz.impulse(key, x, level)
    return nz.speckle(key, x, level)


def study(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from jaxdip.data import load_image
    from jaxdip.fit import init, run
    from jaxdip.operators.identity import Identity
    from jaxdip.stopping import EMV, WMV
    from jaxdip.tasks import make_model

    steps, chunk = args.study_steps, args.study_chunk
    if steps % chunk:
        raise ValueError(f"--study-steps: expected a multiple of --study-chunk {chunk}, got {steps}")
    var = variants(steps)
    kinds = {"WMV": WMV, "EMV": EMV}
    Watch = _make_watch()
    watch = Watch(tuple(kinds[k](**o) for k, o in var.values()))
    optimizer = optax.adam(0.01)

    cases = []  # (image, noise, level_name, level, x_true, y)
    for i, name in enumerate(args.images):
        x = load_image(name, args.study_size)
        for j, (noise, levels) in enumerate(NOISE_LEVELS.items()):
            for k, (lvl, value) in enumerate(levels.items()):
                key = jax.random.key(1000 * i + 10 * j + k)
                y = np.asarray(_noisy(key, jnp.asarray(x), noise, value))
                cases.append((name, noise, lvl, value, x, y))
    rows, seconds, compile_s = [], 0.0, {}
    for channels in sorted({c[4].shape[-1] for c in cases}):
        group = [c for c in cases if c[4].shape[-1] == channels]
        xs = jnp.asarray(np.stack([c[4] for c in group]))
        ys = jnp.asarray(np.stack([c[5] for c in group]))
        keys = jax.random.split(jax.random.key(7 + channels), len(group))
        model = make_model("skip", channels, width=args.study_width, scales=args.study_scales)
        op = Identity(group[0][4].shape)

        def one(key, y, x_true):
            return init(key, model, op, y, optimizer=optimizer, x_true=x_true, stopping=watch)

        t0 = time.perf_counter()
        states = jax.vmap(one)(keys, ys, xs)
        run_chunk = jax.jit(jax.vmap(lambda s: run(s, chunk)))
        psnr = []
        for c in range(steps // chunk):
            t1 = time.perf_counter()
            states, aux = run_chunk(states)
            psnr.append(np.asarray(aux.psnr))
            if c == 0:
                compile_s[channels] = time.perf_counter() - t1
            print(
                f"  {channels}-channel group ({len(group)} cases): step {(c + 1) * chunk}/{steps}"
                f"  {time.perf_counter() - t0:.0f} s  median PSNR {np.median(psnr[-1][:, -1]):.2f}",
                flush=True,
            )
        seconds += time.perf_counter() - t0
        psnr = np.concatenate(psnr, axis=1)  # (cases, steps)
        detected = {
            name: np.asarray(jax.vmap(rule.detected)(st)[0])
            for name, rule, st in zip(var, watch.rules, states.stop_state)
        }
        for m, c in enumerate(group):
            curve = psnr[m]
            best = int(np.nanargmax(curve))
            row = {
                "image": c[0],
                "channels": channels,
                "noise": c[1],
                "level": c[2],
                NOISE_PARAMETER[c[1]]: c[3],
                "psnr_noisy": float(10 * np.log10(1.0 / np.mean((c[5] - c[4]) ** 2))),
                "best_step": best,
                "best_psnr": float(curve[best]),
                "final_psnr": float(curve[-1]),
            }
            for name, det in detected.items():
                d = int(det[m])
                row[f"{name}_step"] = d
                row[f"{name}_psnr"] = float(curve[d]) if d >= 0 else None
                row[f"{name}_gap"] = float(curve[best] - curve[d]) if d >= 0 else None
            rows.append(row)
    summary = {}
    for name in var:
        entry = {"all": _stats([r[f"{name}_gap"] for r in rows])}
        for noise in NOISE_LEVELS:
            entry[noise] = _stats([r[f"{name}_gap"] for r in rows if r["noise"] == noise])
        for lvl in ("low", "high"):
            entry[lvl] = _stats([r[f"{name}_gap"] for r in rows if r["level"] == lvl])
        summary[name] = entry
    summary["final_step"] = {"all": _stats([r["best_psnr"] - r["final_psnr"] for r in rows])}
    for name in var:
        s = summary[name]["all"]
        print(f"{name:18s} gap median {s['median']:.2f} dB  p90 {s['p90']:.2f} dB", flush=True)
    return {
        "setting": {
            "images": args.images,
            "size": args.study_size,
            "model": "skip",
            "width": args.study_width,
            "scales": args.study_scales,
            "skip_channels": 4,
            "steps": steps,
            "chunk": chunk,
            "optimizer": "adam(0.01)",
            "loss": "mse",
            "input_noise": 0.0,
            "ema": None,
            "noise_levels": NOISE_LEVELS,
            "noise_parameter": NOISE_PARAMETER,
            "variants": {n: {"rule": k, **o} for n, (k, o) in var.items()},
            "gap": "max_t PSNR(x_t) - PSNR(x_detected), per-step PSNR of the engine's outputs",
            "method": "jax.vmap(init) over (key, y, x_true) per channel count, "
            "jax.jit(jax.vmap(run)) in chunks; one composite rule updates every variant and "
            "never halts the fit; each variant's detection freezes at its own patience",
        },
        "seconds": seconds,
        "first_chunk_s": {str(k): v for k, v in compile_s.items()},
        "target_median_gap_db": TARGET_MEDIAN_GAP_DB,
        "target_met": {
            n: summary[n]["all"]["median"] <= TARGET_MEDIAN_GAP_DB
            for n in ("WMV-ref", "EMV-ref")
        },
        "summary": summary,
        "cases": rows,
    }


def _stats(values) -> dict:
    import numpy as np

    v = np.asarray([x for x in values if x is not None], np.float64)
    missing = len(values) - len(v)
    if len(v) == 0:
        return {"n": 0, "missing": missing, "median": None, "p90": None, "mean": None, "max": None}
    return {
        "n": int(len(v)),
        "missing": int(missing),
        "median": float(np.median(v)),
        "p90": float(np.percentile(v, 90)),
        "mean": float(np.mean(v)),
        "max": float(np.max(v)),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=("overhead", "study"),
                   default=["overhead", "study"])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="overhead image sides")
    p.add_argument("--width", type=int, default=32, help="overhead Skip channels per scale")
    p.add_argument("--scales", type=int, default=5, help="overhead Skip scales")
    p.add_argument("--chunk", type=int, default=20, help="overhead steps per timed run() call")
    p.add_argument("--repeats", type=int, default=4, help="overhead timed rounds")
    p.add_argument("--no-sv", action="store_true", help="leave self-validation out of part 1")
    p.add_argument("--images", nargs="+",
                   default=["astronaut", "camera", "coffee", "chelsea", "cat", "rocket"])
    p.add_argument("--study-size", type=int, default=64)
    p.add_argument("--study-width", type=int, default=16)
    p.add_argument("--study-scales", type=int, default=5)
    p.add_argument("--study-steps", type=int, default=500)
    p.add_argument("--study-chunk", type=int, default=100)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 16 px, one-scale width-4 nets, 1 image, 30 steps")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON output path")
    args = p.parse_args(argv)
    args.wmv, args.emv, args.sv = {"window": 100}, {"alpha": 0.1}, {}
    if args.quick:
        args.sizes, args.width, args.scales, args.chunk, args.repeats = [16], 4, 1, 2, 2
        args.images, args.study_size, args.study_width, args.study_scales = ["camera"], 16, 4, 1
        args.study_steps, args.study_chunk = 30, 30
        args.wmv = {"window": 4}
        args.sv = {"buffer": 4, "batch": 2, "depth": 1, "hidden": 4}

    import jax

    from jaxdip.io import write_json

    load_start = load_average()
    t0 = time.perf_counter()
    result = {
        "benchmark": "stopping",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_start=load_start),
        "device": str(jax.devices()[0].device_kind),
        "backend": jax.default_backend(),
        "versions": {
            "python": platform.python_version(),
            "jax": version("jax"),
            "jaxlib": version("jaxlib"),
            "flax": version("flax"),
            "optax": version("optax"),
        },
        "quick": args.quick,
        "command": " ".join(["python", "bench/stopping.py", *(sys.argv[1:] if argv is None else argv)]),
    }
    if "overhead" in args.parts:
        result["overhead"] = overhead(args)
    if "study" in args.parts:
        result["study"] = study(args)
    result["machine"]["load_end"] = load_average()
    result["total_s"] = time.perf_counter() - t0
    write_json(args.out, result)
    print(f"wrote {args.out} ({result['total_s']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
