"""Measurement noise models: Gaussian, Poisson (shot), impulse (salt and pepper) and speckle.

Each function takes an explicit ``key`` first, the clean data ``y`` second, and returns a new
noisy array of the same shape and dtype (inputs are never modified). These are the four noise
families of the DIP early-stopping studies (Wang et al., arXiv 2112.06074). Outputs are not
clipped: the original DIP code clips noisy images to [0, 1]; do so with ``jnp.clip`` if wanted.

Level parameters given as Python numbers are checked at call time (ValueError naming the
argument); traced values inside ``jit`` are accepted unchecked.

Example:
    >>> import jax, jax.numpy as jnp
    >>> y = gaussian(jax.random.key(0), jnp.zeros((64, 64, 1)), 25 / 255)
    >>> y.shape, y.dtype
    ((64, 64, 1), dtype('float32'))
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["gaussian", "poisson", "impulse", "speckle"]


def _concrete(value: Any) -> float | None:
    """``float(value)`` for a concrete scalar, ``None`` for a tracer; TypeError otherwise."""
    if isinstance(value, jax.core.Tracer):
        return None
    if np.ndim(value) != 0:
        raise TypeError(f"expected a scalar, got shape {np.shape(value)}")
    return float(value)


def _check_level(name: str, value: Any, lo: float, hi: float, lo_open: bool) -> None:
    try:
        v = _concrete(value)
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from None
    if v is None:
        return
    ok = (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]".replace("inf]", "inf)")
        raise ValueError(f"{name}: expected a value in {interval}, got {v}")


def _as_float_array(name: str, y: Any, allow_complex: bool = False) -> jax.Array:
    y = jnp.asarray(y)
    if jnp.issubdtype(y.dtype, jnp.complexfloating):
        if not allow_complex:
            raise TypeError(f"{name}: expected real data, got dtype {y.dtype}")
        return y
    if not jnp.issubdtype(y.dtype, jnp.floating):
        y = y.astype(jnp.float32)
    return y


def gaussian(key: jax.Array, y: jax.Array, sigma: float) -> jax.Array:
    """Additive white Gaussian noise: ``y + sigma * n``, ``n ~ N(0, 1)``.

    For complex ``y`` the noise is circularly-symmetric complex Gaussian ``CN(0, sigma^2)``:
    real and imaginary parts are independent ``N(0, sigma^2 / 2)``, so ``E|n|^2 = sigma^2``.

    Example:
        >>> import jax.numpy as jnp
        >>> gaussian(jax.random.key(0), jnp.zeros(3, jnp.complex64), 0.1).dtype
        dtype('complex64')
    """
    _check_level("sigma", sigma, 0.0, float("inf"), lo_open=True)
    y = _as_float_array("y", y, allow_complex=True)
    if jnp.issubdtype(y.dtype, jnp.complexfloating):
        real_dtype = jnp.finfo(y.dtype).dtype
        kr, ki = jax.random.split(key)
        n = jax.random.normal(kr, y.shape, real_dtype) + 1j * jax.random.normal(
            ki, y.shape, real_dtype
        )
        return (y + (sigma / np.sqrt(2.0)) * n).astype(y.dtype)
    return (y + sigma * jax.random.normal(key, y.shape, y.dtype)).astype(y.dtype)


def poisson(key: jax.Array, y: jax.Array, photons: float) -> jax.Array:
    """Shot noise: ``Poisson(photons * y) / photons`` for ``y >= 0``.

    The result has mean ``y`` and variance ``y / photons``; ``photons`` is the expected photon
    count of a pixel of value 1 (smaller means noisier).

    Example:
        >>> import jax.numpy as jnp
        >>> poisson(jax.random.key(0), jnp.full((2, 2, 1), 0.5), 100.0).shape
        (2, 2, 1)
    """
    _check_level("photons", photons, 0.0, float("inf"), lo_open=True)
    y = _as_float_array("y", y)
    if not isinstance(y, jax.core.Tracer) and bool(jnp.any(y < 0)):
        raise ValueError(f"y: expected non-negative values, got minimum {float(jnp.min(y))}")
    counts = jax.random.poisson(key, photons * y, y.shape)
    return (counts / photons).astype(y.dtype)


def impulse(
    key: jax.Array, y: jax.Array, amount: float, *, salt_vs_pepper: float = 0.5
) -> jax.Array:
    """Salt-and-pepper noise: each entry is replaced with probability ``amount``.

    A replaced entry becomes 1 (salt) with probability ``salt_vs_pepper`` and 0 (pepper)
    otherwise; entries (channels included) are corrupted independently, as in
    ``skimage.util.random_noise(mode='s&p')``.

    Example:
        >>> import jax.numpy as jnp
        >>> z = impulse(jax.random.key(0), jnp.full((8, 8, 1), 0.5), 0.2)
        >>> set(jnp.unique(z).tolist()) <= {0.0, 0.5, 1.0}
        True
    """
    _check_level("amount", amount, 0.0, 1.0, lo_open=False)
    _check_level("salt_vs_pepper", salt_vs_pepper, 0.0, 1.0, lo_open=False)
    y = _as_float_array("y", y)
    k_hit, k_salt = jax.random.split(key)
    hit = jax.random.bernoulli(k_hit, amount, y.shape)
    salt = jax.random.bernoulli(k_salt, salt_vs_pepper, y.shape)
    return jnp.where(hit, salt.astype(y.dtype), y)


def speckle(key: jax.Array, y: jax.Array, sigma: float) -> jax.Array:
    """Multiplicative speckle noise: ``y + y * n``, ``n ~ N(0, sigma^2)``.

    Example:
        >>> import jax.numpy as jnp
        >>> speckle(jax.random.key(0), jnp.zeros((2, 2, 1)), 0.3).sum()
        Array(0., dtype=float32)
    """
    _check_level("sigma", sigma, 0.0, float("inf"), lo_open=True)
    y = _as_float_array("y", y)
    return (y + y * sigma * jax.random.normal(key, y.shape, y.dtype)).astype(y.dtype)
