"""Data-fidelity losses and image regularisers for the DIP objective.

The engine minimises ``loss(A(G_theta(z)), y) + lam * R(G_theta(z))``. Losses and regularisers are
small frozen dataclasses (hashable by value), so a jitted fit built with ``Huber(0.01)`` twice is
compiled once. All reductions are means, so values do not scale with the image size. Complex
residuals (MRI, phase retrieval) use ``|r|``.

Example:
    >>> import jax.numpy as jnp
    >>> float(MSE()(jnp.ones(4), jnp.zeros(4)))
    1.0
    >>> float(TV("anisotropic")(jnp.zeros((8, 8, 1))))
    0.0
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["MSE", "L1", "Huber", "TV", "GradientRatio", "get_loss", "get_regularizer"]


@dataclasses.dataclass(frozen=True)
class MSE:
    """Mean squared error ``mean(|pred - y|^2)`` (DIP, Ulyanov et al. 2018)."""

    def __call__(self, pred: jax.Array, y: jax.Array) -> jax.Array:
        r = pred - y
        return jnp.mean(jnp.real(r * jnp.conj(r)))


@dataclasses.dataclass(frozen=True)
class L1:
    """Mean absolute error ``mean(|pred - y|)``."""

    def __call__(self, pred: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.mean(jnp.abs(pred - y))


@dataclasses.dataclass(frozen=True)
class Huber:
    """Mean Huber loss: ``r^2 / (2 delta)`` for ``|r| <= delta``, ``|r| - delta/2`` beyond.

    Scaled by ``1/delta`` relative to the textbook form so that it tends to L1 as ``delta -> 0``.
    """

    delta: float = 0.01

    def __post_init__(self) -> None:
        if not self.delta > 0:
            raise ValueError(f"Huber: delta expected > 0, got {self.delta}")

    def __call__(self, pred: jax.Array, y: jax.Array) -> jax.Array:
        a = jnp.abs(pred - y)
        quad = 0.5 * a**2 / self.delta
        return jnp.mean(jnp.where(a <= self.delta, quad, a - 0.5 * self.delta))


def _finite_differences(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Forward differences along H and W of an (H, W, C) image (no wrap-around)."""
    dh = x[1:, :, :] - x[:-1, :, :]
    dw = x[:, 1:, :] - x[:, :-1, :]
    return dh, dw


@dataclasses.dataclass(frozen=True)
class TV:
    """Total variation of an (H, W, C) image, normalised by ``H*W*C``.

    anisotropic: ``(sum|d_h x| + sum|d_w x|) / (HWC)`` (the TV1 of the Deep Random Projector,
    Li et al. 2023); isotropic: ``sum sqrt(d_h x^2 + d_w x^2 + eps) / (HWC)`` on the common
    (H-1, W-1) grid.
    """

    kind: str = "anisotropic"
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.kind not in ("anisotropic", "isotropic"):
            raise ValueError(f"TV: kind expected 'anisotropic' or 'isotropic', got {self.kind!r}")

    def __call__(self, x: jax.Array) -> jax.Array:
        dh, dw = _finite_differences(x)
        n = x.size
        if self.kind == "anisotropic":
            return (jnp.sum(jnp.abs(dh)) + jnp.sum(jnp.abs(dw))) / n
        g2 = dh[:, :-1, :] ** 2 + dw[:-1, :, :] ** 2
        return jnp.sum(jnp.sqrt(g2 + self.eps)) / n


@dataclasses.dataclass(frozen=True)
class GradientRatio:
    """The l1/l2 ratio of the image gradient, ``||grad x||_1 / ||grad x||_2`` (scale invariant).

    Used as the image prior of blind deconvolution by Zhuang et al. (arXiv 2208.09483).
    """

    eps: float = 1e-8

    def __call__(self, x: jax.Array) -> jax.Array:
        dh, dw = _finite_differences(x)
        g = jnp.concatenate([dh.ravel(), dw.ravel()])
        return jnp.sum(jnp.abs(g)) / (jnp.sqrt(jnp.sum(g**2)) + self.eps)


_LOSSES = {"mse": MSE(), "l1": L1(), "huber": Huber()}
_REGULARIZERS = {"tv": TV("anisotropic"), "tv-iso": TV("isotropic"), "l1/l2": GradientRatio()}


def get_loss(loss: str | Callable) -> Callable:
    """A loss from its name (``'mse'``, ``'l1'``, ``'huber'``) or a callable ``loss(pred, y)``."""
    if callable(loss):
        return loss
    if loss not in _LOSSES:
        raise ValueError(f"loss: expected one of {sorted(_LOSSES)} or a callable, got {loss!r}")
    return _LOSSES[loss]


def get_regularizer(reg: str | Callable | None) -> Callable | None:
    """A regulariser from its name (``'tv'``, ``'tv-iso'``, ``'l1/l2'``), a callable, or None."""
    if reg is None or callable(reg):
        return reg
    if reg not in _REGULARIZERS:
        raise ValueError(
            f"regularizer: expected one of {sorted(_REGULARIZERS)}, a callable or None, got {reg!r}"
        )
    return _REGULARIZERS[reg]
