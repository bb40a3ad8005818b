"""Benchmark: top-k singular values of the Jacobian of the DIP Skip generator.

For each output size a fresh subprocess builds ``jaxdip.models.skip.Skip`` (default arguments:
5 scales of 128 channels, 3 outputs, 2,217,831 parameters), compiles
``jaxdip.spectral.top_k_svd`` (Golub-Kahan-Lanczos, default Krylov depth ``2 k + 10``) and runs it
once. It records compile and run wall time, the peak resident memory of the subprocess
(``ru_maxrss``), the singular values and their relative residuals.

Usage:
    python bench/spectral.py                 # 64x64 and 128x128, k = 32
    python bench/spectral.py --quick --out /tmp/s.json   # tiny network
Results go to bench/results/spectral_cpu.json (written atomically).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time

from _common import machine

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "spectral_cpu.json")
QUICK_NET = dict(channels_down=(4,), channels_up=(4,), channels_skip=(2,))


def worker(size: int, k: int, quick: bool) -> dict:
    """Time one top-k SVD in this process; returns a JSON-ready record."""
    import jax
    import numpy as np
    from flax import nnx

    from jaxdip.models.skip import Skip
    from jaxdip.spectral import generator_fn, top_k_svd

    net = Skip(**(QUICK_NET if quick else {}), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(net, nnx.Param)
    f = generator_fn(graphdef, net.make_input(jax.random.key(1), (size, size)))
    n_params = sum(int(np.size(p)) for p in jax.tree.leaves(params))

    def spectrum(fn, p):
        return top_k_svd(jax.random.key(2), fn, p, k)

    t0 = time.perf_counter()
    compiled = jax.jit(spectrum).lower(f, params).compile()
    t1 = time.perf_counter()
    svd = jax.block_until_ready(compiled(f, params))
    t2 = time.perf_counter()
    s = np.asarray(svd.singular_values, np.float64)
    rel = np.asarray(svd.residuals, np.float64) / s
    return {
        "size": [size, size, net.out_channels],
        "params": n_params,
        "k": k,
        "num_matvecs": min(2 * k + 10, size * size * net.out_channels, n_params),
        "compile_s": round(t1 - t0, 3),
        "run_s": round(t2 - t1, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "singular_values": [float(v) for v in s],
        "max_relative_residual": float(rel.max()),
    }


def environment() -> dict:
    from importlib.metadata import version

    import jax

    dev = jax.devices()[0]
    return {
        "machine": machine(load_average_1m=round(os.getloadavg()[0], 2)),
        "device": {"platform": dev.platform, "kind": dev.device_kind, "count": jax.device_count()},
        "versions": {
            "python": platform.python_version(),
            **{name: version(name) for name in ("jax", "jaxlib", "flax", "matfree", "numpy")},
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one-scale 4-channel Skip at 8x8, k = 4")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output JSON path")
    parser.add_argument("--sizes", type=int, nargs="+", help="output sizes (default 64 128)")
    parser.add_argument("--k", type=int, help="number of singular values (default 32)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    k = args.k or (4 if args.quick else 32)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, k, args.quick)))
        return 0

    sizes = args.sizes or ([8] if args.quick else [64, 128])
    runs = []
    for size in sizes:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(size), "--k", str(k)]
        cmd += ["--quick"] if args.quick else []
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"bench/spectral.py: worker for size {size} failed ({proc.returncode})")
        record = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{size}x{size}: compile {record['compile_s']} s, run {record['run_s']} s, "
            f"peak RSS {record['peak_rss_mib']} MiB, max rel residual {record['max_relative_residual']:.1e}"
        )
        runs.append(record)
    payload = {
        "benchmark": "top-k singular values of the Skip generator Jacobian (jaxdip.spectral.top_k_svd)",
        "network": "Skip(quick config " + json.dumps(QUICK_NET) + ")" if args.quick else "Skip() defaults",
        **environment(),
        "runs": runs,
    }
    from jaxdip.io import write_json

    write_json(args.out, payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
