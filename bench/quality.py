"""DIP reconstruction quality next to classical library baselines, on bundled images.

For each task (denoising sigma = 25/255, 50% pixel inpainting, x4 super-resolution, sparse-angle CT,
4x MRI) this builds the problem with :func:`jaxdip.tasks.make_problem`, fits a DIP Skip network and
runs a scikit-image / classical baseline on the same data:

  denoise  -> skimage.restoration.denoise_tv_chambolle (weight picked by oracle from a grid)
  inpaint  -> skimage.restoration.inpaint_biharmonic
  superres -> bicubic interpolation (skimage.transform.resize, order 3)
  ct       -> filtered back-projection (skimage.transform.iradon, Ram-Lak)
  mri      -> zero-filled inverse FFT

Writes bench/results/quality_cpu.json (machine, versions, date, per-case PSNR/SSIM, best PSNR over
the DIP steps, steps, seconds). ``--quick`` runs tiny sizes for the smoke test.

    python bench/quality.py                 # CPU-sized setting (128 x 128), a few minutes per task
    python bench/quality.py --quick --out /tmp/q.json
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import jax
import numpy as np
import optax
from skimage import restoration, transform

from jaxdip import metrics
from jaxdip.fit import fit
from jaxdip.io import write_json
from jaxdip.tasks import make_model, make_problem

from _common import machine

CASES = [
    # task, image, steps, width
    ("denoise", "astronaut", 1500, 32),
    ("inpaint", "camera", 2000, 32),
    ("superres", "astronaut", 2000, 32),
    ("ct", "shepp_logan", 2000, 32),
    ("mri", "shepp_logan", 2000, 32),
]


def baseline(problem, task):
    """(name, reconstruction) of the classical baseline on the problem's data."""
    y = np.array(problem.y)  # writable copies: some skimage routines need them
    x_true = np.array(problem.x_true)
    if task == "denoise":
        best = None
        for w in (0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2):
            x = restoration.denoise_tv_chambolle(y, weight=w, channel_axis=-1)
            p = metrics.psnr(x, x_true)
            if best is None or p > best[0]:
                best = (p, x, w)
        return f"tv_chambolle(weight={best[2]}, oracle)", best[1]
    if task == "inpaint":
        mask = np.array(problem.operator.mask)
        missing = np.array(np.broadcast_to(mask < 0.5, y.shape)[..., 0])
        x = restoration.inpaint_biharmonic(y, missing, channel_axis=-1)
        return "inpaint_biharmonic", x
    if task == "superres":
        return "bicubic", transform.resize(y, x_true.shape, order=3, anti_aliasing=False)
    if task == "ct":
        theta = np.asarray(problem.operator.angles)
        x = transform.iradon(y.T, theta=theta, filter_name="ramp", circle=True,
                             output_size=x_true.shape[0])
        scale = 1.0
        return "fbp(iradon, ramp)", np.clip(x * scale, 0, 1)[..., None]
    if task == "mri":
        return "zero-filled", problem.degraded
    raise ValueError(task)


def run_case(task, image, steps, width, size, scales=5, seed=0):
    key = jax.random.key(seed)
    k_problem, k_fit = jax.random.split(key)
    problem = make_problem(task, k_problem, image=image, size=size)
    x_true = np.asarray(problem.x_true)
    name, x_base = baseline(problem, task)
    model = make_model("skip", problem.out_channels, width=width, scales=scales)
    res = fit(k_fit, model, problem.operator, problem.y, steps=steps, optimizer=optax.adam(0.01),
              x_true=problem.fit_truth, progress=False, **problem.fit_options)
    x_dip = np.asarray(problem.to_image(res.x_ema))
    best = res.best_psnr
    if task == "mri":  # history PSNR is on (real, imag); report the magnitude image's best instead
        best = None
    return {
        "task": task,
        "image": image,
        "size": size,
        "baseline": name,
        "baseline_psnr": round(float(metrics.psnr(np.clip(x_base, 0, 1), x_true)), 3),
        "baseline_ssim": round(float(metrics.ssim(np.clip(x_base, 0, 1), x_true)), 4),
        "dip_psnr": round(float(metrics.psnr(x_dip, x_true)), 3),
        "dip_best_psnr": None if best is None else round(float(best), 3),
        "dip_ssim": round(float(metrics.ssim(x_dip, x_true)), 4),
        "steps": res.steps,
        "width": width,
        "seconds": round(res.seconds, 1),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes and steps (smoke test)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--tasks", nargs="*", default=[c[0] for c in CASES])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                  "quality_cpu.json"))
    args = ap.parse_args(argv)
    results = []
    for task, image, steps, width in CASES:
        if task not in args.tasks:
            continue
        scales = 5
        if args.quick:
            steps, width, size, scales = 5, 4, 32, 2
        else:
            size = args.size
        t0 = time.perf_counter()
        row = run_case(task, image, steps, width, size, scales)
        results.append(row)
        print(f"{task:9s} {row['baseline']:32s} {row['baseline_psnr']:6.2f} dB | DIP "
              f"{row['dip_psnr']:6.2f} dB (best {row['dip_best_psnr']}) "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    report = {
        "machine": machine(),
        "device": str(jax.devices()[0]),
        "versions": {"jax": jax.__version__, "python": platform.python_version(),
                     "optax": optax.__version__},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "setting": {"size": 32 if args.quick else args.size, "quick": args.quick},
        "results": results,
    }
    write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
