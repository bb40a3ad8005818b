"""Input codes ``z`` for generator networks.

DIP-style networks map a fixed random code to an image: ``uniform_noise`` is the reference code of
Ulyanov et al. (2018) and of the Deep Decoder (``U(0, 0.1)``), ``meshgrid`` is the 2-channel
coordinate input DIP uses for large-hole inpainting, and ``coordinates`` is the ``[-1, 1]`` grid
fed to coordinate networks (MLP with Fourier features, SIREN).

Example:
    >>> import jax
    >>> uniform_noise(jax.random.key(0), (64, 64, 32)).shape
    (64, 64, 32)
    >>> coordinates((4, 6)).shape
    (4, 6, 2)
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["uniform_noise", "normal_noise", "meshgrid", "coordinates", "check_hw"]


def check_hw(name: str, hw: Any) -> tuple[int, int]:
    """Return ``hw`` as a pair of positive ints, or raise ValueError/TypeError naming ``name``."""
    try:
        pair = tuple(hw)
    except TypeError:
        raise TypeError(f"{name}: expected a pair (H, W) of positive ints, got {hw!r}") from None
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in pair):
        raise TypeError(f"{name}: expected a pair (H, W) of positive ints, got {hw!r}")
    if min(pair) < 1:
        raise ValueError(f"{name}: expected positive sizes, got {pair}")
    return (int(pair[0]), int(pair[1]))


def _check_shape_scale(shape: Any, scale: float) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape: expected a tuple of positive ints, got {shape!r}") from None
    if any(s < 1 for s in shape):
        raise ValueError(f"shape: expected positive sizes, got {shape}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a finite positive number, got {scale!r}")
    return shape


def uniform_noise(key: jax.Array, shape: tuple[int, ...], scale: float = 0.1) -> jax.Array:
    """``z ~ U(0, scale)`` i.i.d., float32 (DIP and Deep Decoder use ``scale = 0.1``)."""
    shape = _check_shape_scale(shape, scale)
    return scale * jax.random.uniform(key, shape, dtype=jnp.float32)


def normal_noise(key: jax.Array, shape: tuple[int, ...], scale: float = 0.1) -> jax.Array:
    """``z ~ N(0, scale^2)`` i.i.d., float32 (the Deep Random Projector seed: ``scale = 0.1``)."""
    shape = _check_shape_scale(shape, scale)
    return scale * jax.random.normal(key, shape, dtype=jnp.float32)


def meshgrid(shape_hw: tuple[int, int], channels: int = 2) -> jax.Array:
    """The DIP meshgrid code ``(H, W, 2)``: channel 0 is ``j / (W - 1)``, channel 1 ``i / (H - 1)``.

    Values lie in ``[0, 1]`` (a size-1 axis gives 0). ``channels`` is the network's input depth and
    must be 2, as in the reference code (Ulyanov et al. 2018, large-hole inpainting).
    """
    h, w = check_hw("shape_hw", shape_hw)
    if channels != 2:
        raise ValueError(f"channels: the meshgrid code has exactly 2 channels, got {channels!r}")
    xs = jnp.linspace(0.0, 1.0, w, dtype=jnp.float32)
    ys = jnp.linspace(0.0, 1.0, h, dtype=jnp.float32)
    return jnp.stack(jnp.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1)


def coordinates(shape_hw: tuple[int, int]) -> jax.Array:
    """Grid ``(H, W, 2)`` in ``[-1, 1]``: ``[..., 0]`` is the row, ``[..., 1]`` the column.

    ``out[i, j] = (-1 + 2 i / (H - 1), -1 + 2 j / (W - 1))`` (a size-1 axis gives -1), the input of
    coordinate networks (Sitzmann et al. 2020; Tancik et al. 2020).
    """
    h, w = check_hw("shape_hw", shape_hw)
    rows = jnp.linspace(-1.0, 1.0, h, dtype=jnp.float32)
    cols = jnp.linspace(-1.0, 1.0, w, dtype=jnp.float32)
    return jnp.stack(jnp.broadcast_arrays(rows[:, None], cols[None, :]), axis=-1)
