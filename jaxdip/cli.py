"""The ``jaxdip`` command: run a DIP reconstruction on a bundled image or on your own data.

    jaxdip denoise                       # bundled astronaut, synthetic noise sigma = 25/255
    jaxdip superres photo.png --factor 4 # your image as ground truth, synthetic x4 degradation
    jaxdip ct --measurement sino.npy --angles 60   # measured sinogram, no ground truth

Writes into --out: recon.png, degraded.png, metrics.json and history.png. Compiled programs are
kept on disk (``jaxdip.compile_cache``), so a second run of the same task and size skips XLA.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import numpy as np

from jaxdip.tasks import MODELS, TASKS

# Defaults for the bundled examples: CPU-sized so that `jaxdip denoise` ends in ~2 minutes.
DEFAULT_STEPS = {"denoise": 1200, "inpaint": 1500, "superres": 1500, "deblur": 1200, "cs": 1500,
                 "mri": 1500, "ct": 1500}
DEFAULT_WIDTH = 32


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jaxdip",
        description="Deep Image Prior reconstruction in JAX.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("task", choices=TASKS, help="inverse problem")
    p.add_argument("image", nargs="?", default=None,
                   help="ground-truth image: a bundled name (see jaxdip.data.IMAGE_NAMES) or a "
                        "path; default: a bundled image per task")
    p.add_argument("--measurement", type=Path, default=None,
                   help="measured data (.npy, or an image for denoise/superres/deblur) instead of "
                        "a synthetic degradation; no ground truth then")
    p.add_argument("--steps", type=_positive_int, default=None,
                   help="optimisation steps (default per task)")
    p.add_argument("--size", type=_positive_int, default=128, help="ground-truth side length")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--sigma", type=_positive_float, default=None, help="noise level")
    p.add_argument("--factor", type=_positive_int, default=4, help="super-resolution factor")
    p.add_argument("--angles", type=_positive_int, default=30, help="CT projection angles")
    p.add_argument("--acceleration", type=_positive_int, default=4, help="MRI acceleration")
    p.add_argument("--keep", type=_positive_float, default=0.5,
                   help="inpainting: fraction of pixels kept")
    p.add_argument("--model", choices=MODELS, default="skip", help="generator")
    p.add_argument("--width", type=_positive_int, default=DEFAULT_WIDTH, help="channels per layer")
    p.add_argument("--scales", type=_positive_int, default=5, help="Skip: encoder-decoder scales")
    p.add_argument("--lr", type=_positive_float, default=0.01, help="Adam learning rate")
    p.add_argument("--stop", choices=("auto", "none", "wmv", "emv", "sv"), default="auto",
                   help="early-stopping rule; auto = wmv for denoise (best in bench/stopping.py), none "
                        "otherwise; patience "
                        "is a fifth of --steps (at least 50)")
    p.add_argument("--ensemble", type=_positive_int, default=1, metavar="K",
                   help="fit K seeds at once (vmapped) and write mean, std and error maps")
    p.add_argument("--out", type=Path, default=Path("jaxdip_out"), help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--compile-cache", type=Path, default=None, metavar="DIR",
                       help="directory of compiled programs reused by later runs (default: "
                            "$JAX_COMPILATION_CACHE_DIR if set, else jaxdip.compile_cache."
                            "default_dir())")
    cache.add_argument("--no-compile-cache", action="store_true",
                       help="do not turn the cache on (a JAX_COMPILATION_CACHE_DIR set in the "
                            "environment still applies)")
    return p


def make_stopping(name: str, task: str, steps: int):
    """The stopping rule for ``--stop`` (None for 'none')."""
    from jaxdip.stopping import EMV, WMV, SelfValidation

    if name == "auto":
        name = "wmv" if task == "denoise" else "none"
    patience = max(50, steps // 5)
    if name == "emv":
        return EMV(alpha=0.1, patience=patience, start=min(100, steps // 10))
    if name == "wmv":
        return WMV(window=min(100, max(10, steps // 20)), patience=patience)
    if name == "sv":
        return SelfValidation(patience=patience)
    return None


def _load_measurement(path: Path, task: str) -> np.ndarray:
    if not path.exists():
        raise SystemExit(f"jaxdip: error: --measurement: file not found: {path}")
    if path.suffix == ".npy":
        return np.load(path)
    if task in ("denoise", "superres", "deblur"):
        from jaxdip.data import load_image

        return load_image(str(path))
    raise SystemExit(f"jaxdip: error: --measurement: expected a .npy file for {task}, got {path}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import jax
    import optax

    from jaxdip import __version__, compile_cache
    from jaxdip.data import save_image
    from jaxdip.fit import fit
    from jaxdip.io import write_json
    from jaxdip.metrics import psnr, ssim
    from jaxdip.plot import plot_history
    from jaxdip.tasks import make_model, make_problem

    if not args.no_compile_cache:
        try:
            compile_cache.enable(args.compile_cache)
        except ValueError as err:
            if args.compile_cache is not None:
                raise SystemExit(f"jaxdip: error: --compile-cache: {err}") from None
            print(f"jaxdip: warning: running without a compile cache: {err}", file=sys.stderr)
    measurement = None if args.measurement is None else _load_measurement(args.measurement, args.task)
    key = jax.random.key(args.seed)
    k_problem, k_fit = jax.random.split(key)
    try:
        problem = make_problem(
            args.task, k_problem, image=args.image, size=args.size, sigma=args.sigma,
            factor=args.factor, angles=args.angles, acceleration=args.acceleration,
            keep=args.keep, measurement=measurement,
        )
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise SystemExit(f"jaxdip: error: image: {err}") from None
    steps = args.steps or DEFAULT_STEPS[args.task]
    model = make_model(args.model, problem.out_channels, width=args.width, scales=args.scales,
                       out_hw=tuple(problem.operator.in_shape[:2]))
    print(f"jaxdip {args.task}: {problem.description}; {args.model} width {args.width}, "
          f"{steps} steps on {jax.devices()[0].platform}", flush=True)
    stopping = make_stopping(args.stop, args.task, steps)
    options = dict(optimizer=optax.adam(args.lr), x_true=problem.fit_truth, stopping=stopping,
                   **problem.fit_options)
    if args.ensemble > 1:
        return _run_ensemble(args, problem, model, steps, k_fit, options)
    result = fit(k_fit, model, problem.operator, problem.y, steps=steps,
                 progress=not args.quiet, **options)
    # The output average is the reference DIP output where it is used (it stays frozen after a
    # stop); otherwise the stopping rule's detected iterate, else the final output.
    if problem.fit_options.get("ema"):
        x_out = result.x_ema
    elif result.x_detected is not None:
        x_out = result.x_detected
    else:
        x_out = result.x
    x_final = np.asarray(problem.to_image(x_out))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    save_image(out / "recon.png", np.clip(x_final, 0, 1))
    save_image(out / "degraded.png", problem.degraded)
    metrics = {
        "task": args.task,
        "description": problem.description,
        "model": args.model,
        "width": args.width,
        "scales": args.scales,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "compile_seconds": round(result.compile_seconds, 2),
        "diverged_step": result.diverged_step,
        "stopping": None if stopping is None else type(stopping).__name__,
        "detected_step": result.detected_step,
        "detection_gap_db": result.detection_gap,
        "device": str(jax.devices()[0]),
        "versions": {"jaxdip": __version__, "jax": jax.__version__, "python": platform.python_version()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if problem.x_true is not None:
        x_true = problem.x_true
        metrics["psnr"] = round(float(psnr(x_final, x_true)), 3)
        metrics["ssim"] = round(float(ssim(x_final, x_true)), 4)
        metrics["degraded_psnr"] = (
            round(float(psnr(problem.degraded, x_true)), 3)
            if problem.degraded.shape == tuple(x_true.shape) else None
        )
        if result.x_detected is not None:
            x_det = np.asarray(problem.to_image(result.x_detected))
            metrics["psnr_detected_iterate"] = round(float(psnr(x_det, x_true)), 3)
        if result.best_psnr is not None:
            metrics["best_step_psnr"] = round(result.best_psnr, 3)
    write_json(out / "metrics.json", metrics)
    plot_history(result.history, out / "history.png")
    line = f"done in {result.seconds:.1f} s ({result.steps} steps)"
    if "psnr" in metrics:
        line += f": PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f}"
        if metrics["degraded_psnr"] is not None:
            line += f" (degraded input {metrics['degraded_psnr']:.2f} dB)"
    print(line)
    print(f"wrote {out}{os.sep}recon.png, degraded.png, metrics.json, history.png")
    return 0


def _run_ensemble(args, problem, model, steps, key, options) -> int:
    """``--ensemble K``: K vmapped seeds; writes mean/std/error maps and calibration numbers."""
    import jax

    from jaxdip.data import save_image
    from jaxdip.ensemble import calibration, fit_ensemble
    from jaxdip.io import write_json
    from jaxdip.metrics import psnr
    from jaxdip.uncertainty_plot import plot_uncertainty

    keys = jax.random.split(key, args.ensemble)
    ens = fit_ensemble(keys, model, problem.operator, problem.y, steps=steps,
                       progress=not args.quiet, **options)
    members = np.stack([np.asarray(problem.to_image(m)) for m in ens.members])
    mean, std = members.mean(0), members.std(0)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    save_image(out / "mean.png", np.clip(mean, 0, 1))
    save_image(out / "degraded.png", problem.degraded)
    metrics = {"task": args.task, "description": problem.description, "ensemble": args.ensemble,
               "steps": ens.steps.tolist(), "seconds": round(ens.seconds, 2),
               "devices": ens.devices}
    error = None
    if problem.x_true is not None:
        x_true = np.asarray(problem.x_true)
        error = np.abs(mean - x_true)
        metrics["psnr_mean"] = round(float(psnr(mean, x_true)), 3)
        metrics["psnr_members"] = [round(float(psnr(m, x_true)), 3) for m in members]
        metrics["calibration"] = calibration(mean, std, x_true)
    np.save(out / "std.npy", std)
    plot_uncertainty(mean, std, error, path=out / "uncertainty.png")
    write_json(out / "metrics.json", metrics)
    line = f"ensemble of {args.ensemble} done in {ens.seconds:.1f} s"
    if error is not None:
        cal = metrics["calibration"]
        line += (f": PSNR of the mean {metrics['psnr_mean']:.2f} dB; |error| vs std Spearman "
                 f"{cal['spearman']:.2f}, coverage of mean +- 2 std {cal['coverage_2std']:.2f}")
    print(line)
    print(f"wrote {out}{os.sep}mean.png, uncertainty.png, std.npy, metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
