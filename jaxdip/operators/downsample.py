"""Super-resolution degradation: anti-aliasing filter then stride-``f`` subsampling.

As in the Deep Image Prior code (Ulyanov, Vedaldi, Lempitsky, CVPR 2018, super-resolution): the
image is edge-padded (replicate), convolved per channel with a separable ``K x K`` kernel
``k = k1 k1^T`` and sampled every ``f`` pixels, giving ``(H / f, W / f, C)``:

    y[i, j, c] = sum_{u, v} k1[u] k1[v] x_edge[f i + u - p0, f j + v - p0, c],

with ``p0 = (K - f) // 2`` pixels of padding before and ``K - f - p0`` after (equal for even
``f``; for odd ``f`` the extra pixel goes after, where the DIP code would lose an output row).

Kernels (1-D taps at distances ``d_t = (t - K/2 + 1/2) / f``, ``t = 0..K-1``, i.e. phase 0.5,
normalised so that the 2-D kernel sums to 1):

- ``'lanczos2'``: ``K = 4 f``, ``k1(d) = sinc(d) sinc(d / 2)`` (the DIP default);
- ``'bicubic'``: ``K = 4 f``, Keys cubic with ``a = -0.5`` (MATLAB ``imresize`` anti-aliasing):
  ``(a + 2)|d|^3 - (a + 3)|d|^2 + 1`` for ``|d| <= 1``, ``a|d|^3 - 5a|d|^2 + 8a|d| - 4a`` for
  ``1 < |d| < 2``;
- ``'box'``: ``K = f``, the mean of each ``f x f`` block (no padding).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip.operators.base import LinearOperator, operator_dataclass, static_field

__all__ = ["Downsample", "downsample_kernel"]

KERNELS = ("lanczos2", "bicubic", "box")


def _taps(name: str, factor: int) -> np.ndarray:
    """Normalised 1-D taps of the separable kernel (float64)."""
    if name == "box":
        taps = np.ones(factor)
    else:
        size = 4 * factor
        d = np.abs(np.arange(size) - size / 2 + 0.5) / factor
        if name == "lanczos2":
            taps = np.sinc(d) * np.sinc(d / 2)
        else:  # bicubic, a = -0.5
            a = -0.5
            near = (a + 2) * d**3 - (a + 3) * d**2 + 1
            far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
            taps = np.where(d <= 1, near, np.where(d < 2, far, 0.0))
    return taps / taps.sum()


def _check_name_factor(kernel: str, factor: int) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor: expected a positive int, got {factor!r}")


def downsample_kernel(name: str, factor: int) -> np.ndarray:
    """The 2-D anti-aliasing kernel (float64, sums to 1) that :class:`Downsample` uses.

    Example:
        >>> k = downsample_kernel("lanczos2", 4)
        >>> k.shape, round(float(k.sum()), 6)
        ((16, 16), 1.0)
    """
    _check_name_factor(name, factor)
    taps = _taps(name, int(factor))
    return np.outer(taps, taps)


@operator_dataclass
class Downsample(LinearOperator):
    """Filter-and-subsample ``(H, W, C) -> (H / f, W / f, C)`` (see module docstring).

    Attributes:
        shape: image shape ``(H, W, C)``; ``H`` and ``W`` must be divisible by ``factor``.
        factor: integer downsampling factor ``f >= 1``.
        kernel: ``'lanczos2'`` (default, DIP), ``'bicubic'`` or ``'box'``.

    The operator holds no arrays (the kernel is a constant of ``kernel`` and ``factor``); its
    adjoint is the transpose from :func:`jax.linear_transpose`.

    Example:
        >>> import jax.numpy as jnp
        >>> A = Downsample((16, 16, 3), 4)
        >>> A(jnp.full((16, 16, 3), 0.5)).shape
        (4, 4, 3)
    """

    shape: tuple[int, int, int] = static_field()
    factor: int = static_field()
    kernel: str = static_field(default="lanczos2")

    def __post_init__(self) -> None:
        dims = tuple(self.shape) if isinstance(self.shape, (tuple, list)) else ()
        if len(dims) != 3 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in dims):
            raise ValueError(f"shape: expected (H, W, C) of positive ints, got {self.shape!r}")
        _check_name_factor(self.kernel, self.factor)
        f = int(self.factor)
        if dims[0] % f or dims[1] % f:
            raise ValueError(
                f"factor: H and W must be divisible by the factor, got shape {dims} and factor {f}"
            )
        object.__setattr__(self, "shape", tuple(int(d) for d in dims))
        object.__setattr__(self, "factor", f)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return self.shape

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.shape
        return (h // self.factor, w // self.factor, c)

    def apply(self, x: jax.Array) -> jax.Array:
        return _downsample(x, self.kernel, self.factor)


@functools.partial(jax.jit, static_argnames=("name", "f"))
def _downsample(x: jax.Array, name: str, f: int) -> jax.Array:
    """Edge padding, then separable stride-``f`` filtering (jitted: fast in eager use too)."""
    taps = jnp.asarray(_taps(name, f), jnp.float32)
    size = taps.shape[0]
    before = (size - f) // 2
    after = size - f - before
    pads = ((before, after), (before, after), (0, 0))
    x = jnp.pad(jnp.asarray(x, jnp.float32), pads, mode="edge")
    x = jnp.moveaxis(x, -1, 0)[..., None]  # channels as batch: (C, Hp, Wp, 1)
    for axis_kernel, stride in ((taps[:, None], (f, 1)), (taps[None, :], (1, f))):
        x = jax.lax.conv_general_dilated(
            x,
            axis_kernel[:, :, None, None],
            window_strides=stride,
            padding="VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            precision=jax.lax.Precision.HIGHEST,
        )
    return jnp.moveaxis(x[..., 0], 0, -1)
