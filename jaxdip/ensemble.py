"""Seed ensembles: K independent DIP fits as one vmapped, jitted program, and their calibration.

Each member has its own initialisation, input code and jitter stream (its own key); members stop
independently (each carries its own stopping-rule state, and its steps are masked after its stop).
The spread of the members is an empirical uncertainty estimate: pixelwise mean and standard
deviation. When several devices are present the member axis is sharded over them with
``jax.sharding`` (a 1-D ``Mesh`` named ``'seed'``), with no change to the call.

Example:
    >>> keys = jax.random.split(jax.random.key(0), 8)  # doctest: +SKIP
    >>> ens = fit_ensemble(keys, model, A, y, steps=1000, x_true=x)  # doctest: +SKIP
    >>> ens.std.shape, ens.calibration["coverage_2std"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxdip import heap, xla_options
from jaxdip.fit import FitState, init, output, run
from jaxdip.operators.base import Operator

__all__ = ["EnsembleResult", "fit_ensemble", "calibration", "sparsification"]


@dataclasses.dataclass
class EnsembleResult:
    """Outcome of :func:`fit_ensemble`.

    Attributes:
      members: (K, H, W, C) member reconstructions (the output EMA when ``ema`` is set, else the
        final output at the clean code; a member's detected iterate when a stopping rule is given).
      mean, std: pixelwise mean and standard deviation over members (population std, ddof 0).
      steps: (K,) steps each member ran; detected_step: (K,) detected steps (or None).
      loss, psnr: (K, steps) per-step histories, NaN after a member stopped.
      calibration: dict from :func:`calibration` when ``x_true`` is given, else None.
      seconds: wall time; devices: number of devices the member axis was sharded over.
    """

    members: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    steps: np.ndarray
    detected_step: np.ndarray | None
    loss: np.ndarray
    psnr: np.ndarray
    calibration: dict | None
    seconds: float
    devices: int


@functools.partial(xla_options.jit, static_argnums=1)
def _run_members(states: FitState, n: int, max_steps: jax.Array):
    return jax.vmap(lambda s: run(s, n, max_steps))(states)


_outputs = jax.jit(jax.vmap(output))


def _shard(states: FitState, k: int) -> tuple[FitState, int]:
    devices = jax.devices()
    if len(devices) < 2 or k % len(devices) != 0:
        return states, 1
    mesh = Mesh(np.asarray(devices), ("seed",))
    sharding = NamedSharding(mesh, PartitionSpec("seed"))
    return jax.device_put(states, sharding), len(devices)


def _fit_group(keys, model, operator, y, steps, chunk, options, bar):
    states = jax.vmap(lambda k: init(k, model, operator, y, **options))(keys)
    states, n_dev = _shard(states, len(keys))
    max_steps = jnp.asarray(steps, jnp.int32)
    # As in fit.fit: compiled before the loop (whose calls find it in jit's cache), then the heap
    # the compiler freed is given back before the members' buffers are allocated.
    _run_members.lower(states, chunk, max_steps).compile()
    heap.release_free_heap()
    records = []
    done = 0
    while done < steps:
        states, aux = _run_members(states, chunk, max_steps)
        aux = jax.tree.map(np.asarray, aux)
        records.append(aux)
        stepped = min(chunk, steps - done)
        done += stepped
        if bar is not None:
            bar.update(stepped * len(keys))
        if not aux.active[:, -1].any():
            break
    aux = jax.tree.map(lambda *a: np.concatenate(a, axis=1), *records)
    loss = np.where(aux.active, aux.loss, np.nan)[:, :steps]
    psnr = np.where(aux.active, aux.psnr, np.nan)[:, :steps]
    final = (
        np.asarray(states.x_ema) if options.get("ema") is not None else np.asarray(_outputs(states))
    )
    d_step, members = None, final
    if states.stopping is not None:
        d_step, d_x = jax.vmap(lambda st: st.stopping.detected(st.stop_state))(states)
        d_step = np.asarray(d_step)
        members = np.where((d_step >= 0)[:, None, None, None], np.asarray(d_x), final)
    return members, np.asarray(states.step), d_step, loss, psnr, n_dev


def fit_ensemble(
    keys: jax.Array,
    model: Any,
    operator: Operator,
    y: jax.Array,
    *,
    steps: int,
    group_size: int | None = None,
    chunk: int | None = None,
    progress: bool = True,
    **options: Any,
) -> EnsembleResult:
    """Fit ``len(keys)`` DIP members, vmapped, in groups of at most ``group_size`` members.

    ``model`` must be a factory ``model(rngs=...)`` so that each member is initialised from its
    key. ``options`` are those of :func:`jaxdip.fit.init` (optimizer, loss, input_noise, ema,
    x_true, stopping, ...). ``group_size`` bounds memory: K members take about K times the memory
    of one fit, so large ensembles run group after group (default: all at once).
    """
    keys = jnp.asarray(keys)
    if keys.ndim != 1 or not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise TypeError(
            f"keys: expected a 1-D array of typed PRNG keys (jax.random.split(key, K)), got "
            f"dtype {keys.dtype} shape {tuple(keys.shape)}"
        )
    k = int(keys.shape[0])
    if k < 1:
        raise ValueError("keys: expected at least one key, got 0")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps!r}")
    group_size = k if group_size is None else int(group_size)
    if group_size < 1:
        raise ValueError(f"group_size: expected a positive integer, got {group_size}")
    if chunk is None:
        chunk = max(10, min(500, math.ceil(steps / 100)))
    chunk = int(min(chunk, steps))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=k * steps, unit="member-step", desc=f"jaxdip ensemble K={k}")
    start = time.perf_counter()
    parts = []
    try:
        for g in range(0, k, group_size):
            parts.append(
                _fit_group(keys[g : g + group_size], model, operator, y, steps, chunk, options, bar)
            )
    finally:
        if bar is not None:
            bar.close()
    members = np.concatenate([p[0] for p in parts])
    detected = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    mean = members.mean(axis=0)
    std = members.std(axis=0)
    x_true = options.get("x_true")
    cal = None if x_true is None else calibration(mean, std, np.asarray(x_true))
    return EnsembleResult(
        members=members,
        mean=mean,
        std=std,
        steps=np.concatenate([p[1] for p in parts]),
        detected_step=detected,
        loss=np.concatenate([p[3] for p in parts]),
        psnr=np.concatenate([p[4] for p in parts]),
        calibration=cal,
        seconds=time.perf_counter() - start,
        devices=max(p[5] for p in parts),
    )


def _ranks(a: np.ndarray) -> np.ndarray:
    order = np.argsort(a, kind="stable")
    ranks = np.empty(a.size, np.float64)
    ranks[order] = np.arange(a.size)
    # average ranks of ties
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def sparsification(error: np.ndarray, uncertainty: np.ndarray, points: int = 20):
    """Sparsification curves (Ilg et al. 2018): RMSE of the pixels left after removing the
    fraction ``f`` with the highest uncertainty, for f in [0, 1); and the oracle curve that removes
    the highest errors first. Returns ``(fractions, curve, oracle, ause)`` where AUSE is the area
    between the two curves (trapezoidal rule, curves normalised by the full RMSE)."""
    e = np.abs(np.asarray(error, np.float64)).ravel()
    u = np.asarray(uncertainty, np.float64).ravel()
    if e.shape != u.shape:
        raise ValueError(f"uncertainty: expected {e.size} values like error, got {u.size}")
    fractions = np.linspace(0.0, 1.0, points, endpoint=False)
    by_u = e[np.argsort(-u, kind="stable")] ** 2
    by_e = np.sort(e)[::-1] ** 2
    n = e.size

    def curve(sorted_sq):
        tail = np.cumsum(sorted_sq[::-1])[::-1]  # tail[i] = sum of entries from i on
        keep_from = (fractions * n).astype(int)
        return np.sqrt(tail[keep_from] / (n - keep_from))

    full = np.sqrt(np.mean(e**2)) + 1e-12
    c, o = curve(by_u) / full, curve(by_e) / full
    ause = float(np.sum((c[1:] + c[:-1] - o[1:] - o[:-1]) / 2 * np.diff(fractions)))
    return fractions, c, o, ause


def calibration(mean: np.ndarray, std: np.ndarray, x_true: np.ndarray) -> dict:
    """Calibration of an ensemble's std against its actual error ``|mean - x_true|``.

    Returns Pearson and Spearman correlations of (|error|, std) over pixels, the coverage of the
    interval mean +- 2 std (fraction of pixels whose truth lies inside; 0.954 for a calibrated
    Gaussian), and the sparsification AUSE (0 is ideal).
    """
    mean, std, x_true = (np.asarray(a, np.float64) for a in (mean, std, x_true))
    if not mean.shape == std.shape == x_true.shape:
        raise ValueError(
            f"x_true: expected shape {mean.shape} like mean and std, got {x_true.shape}"
        )
    err = np.abs(mean - x_true).ravel()
    s = std.ravel()
    pearson = float(np.corrcoef(err, s)[0, 1]) if s.std() > 0 and err.std() > 0 else float("nan")
    re, rs = _ranks(err), _ranks(s)
    spearman = float(np.corrcoef(re, rs)[0, 1]) if rs.std() > 0 and re.std() > 0 else float("nan")
    coverage = float(np.mean(err <= 2 * s))
    _, _, _, ause = sparsification(err, s)
    return {"pearson": pearson, "spearman": spearman, "coverage_2std": coverage, "ause": ause}
