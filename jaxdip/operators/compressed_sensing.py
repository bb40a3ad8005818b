"""Compressed-sensing measurement operators: a dense Gaussian matrix and a fast structured one.

- :class:`GaussianCS`: ``A`` is ``m x n`` with iid ``N(0, 1/m)`` entries acting on the flattened
  signal (``n = prod(shape)``), so ``E ||A x||^2 = ||x||^2``. The setting of Heckel and
  Soltanolkotabi, "Compressive sensing with un-trained neural networks: gradient descent finds a
  smooth approximation", ICML 2020.
- :class:`StructuredCS`: ``A = P C D`` with ``D`` random signs, ``C`` the orthonormal 2-D DCT-II of
  each channel and ``P`` the selection of ``m`` distinct random coefficients. The rows are
  orthonormal, ``A A^T = I_m``, hence ``E_P ||A x||^2 = (m / n) ||x||^2``; no matrix is stored and
  one application costs ``O(n log n)``, so it scales to 256 x 256 x 3 images. The DCT keeps the
  measurements real (a randomly subsampled orthonormal transform with random signs, the classic
  "structurally random matrix" of Do, Gan, Nguyen and Tran, IEEE TSP 2012).

Both are built from an explicit ``key`` (first argument); the derived arrays are pytree leaves, so
``jax.vmap(lambda k: GaussianCS(k, shape, m))(keys)`` gives a batch of operators.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.fft import dctn, idctn

from jaxdip.operators.base import LinearOperator, operator_dataclass, static_field

__all__ = ["GaussianCS", "StructuredCS"]


def _shape(shape, ndim: int | None = None) -> tuple[int, ...]:
    """``shape`` as a tuple of positive ints (of length ``ndim`` when given), else ValueError."""
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else ()
    ok = len(dims) > 0 and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in dims
    )
    if not ok or (ndim is not None and len(dims) != ndim):
        what = "(H, W, C)" if ndim == 3 else "a tuple"
        raise ValueError(f"shape: expected {what} of positive ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def _count(m, upper: int | None = None) -> int:
    """The number of measurements ``m`` as an int in ``[1, upper]``, else ValueError/TypeError."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
        raise TypeError(f"m: expected a positive int, got {m!r}")
    if m <= 0 or (upper is not None and m > upper):
        bound = f" at most n = {upper}" if upper is not None else ""
        raise ValueError(f"m: expected a positive int{bound}, got {m}")
    return int(m)


def _check_key(key) -> jax.Array:
    """A JAX PRNG key (typed, or a legacy uint32 pair), else TypeError naming ``key``."""
    typed = isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    legacy = isinstance(key, jax.Array) and key.dtype == jnp.uint32 and key.shape == (2,)
    if not (typed or legacy):
        got = repr(key)
        if hasattr(key, "dtype"):
            got = f"array of dtype {key.dtype} and shape {key.shape}"
        raise TypeError(f"key: expected a jax.random.key, got {got}")
    return key


# The array work below is jitted once per shape so that eager (un-jitted) use stays fast.


@functools.partial(jax.jit, static_argnames=("m", "n"))
def _gaussian_matrix(key: jax.Array, m: int, n: int) -> jax.Array:
    return jax.random.normal(key, (m, n), jnp.float32) / np.float32(math.sqrt(m))


@functools.partial(jax.jit, static_argnames=("shape", "m"))
def _signs_and_rows(key: jax.Array, shape: tuple[int, int, int], m: int):
    k_signs, k_rows = jax.random.split(key)
    signs = jax.random.rademacher(k_signs, shape, jnp.float32)
    rows = jnp.sort(jax.random.permutation(k_rows, math.prod(shape))[:m]).astype(jnp.int32)
    return signs, rows


@jax.jit
def _sampled_dct(signs: jax.Array, rows: jax.Array, x: jax.Array) -> jax.Array:
    coeffs = dctn(signs * jnp.asarray(x, jnp.float32), axes=(0, 1), norm="ortho")
    return coeffs.reshape(-1)[rows]


@jax.jit
def _sampled_dct_adjoint(signs: jax.Array, rows: jax.Array, y: jax.Array) -> jax.Array:
    coeffs = jnp.zeros(signs.size, jnp.float32).at[rows].set(jnp.asarray(y, jnp.float32))
    return signs * idctn(coeffs.reshape(signs.shape), axes=(0, 1), norm="ortho")


@operator_dataclass
class GaussianCS(LinearOperator):
    """Dense Gaussian measurements ``y = A vec(x)``, ``A_ij ~ N(0, 1/m)`` iid, output ``(m,)``.

    Attributes:
        key: the PRNG key the matrix is drawn from.
        shape: signal shape (any); ``n = prod(shape)``.
        m: number of measurements.
        matrix: the ``(m, n)`` float32 matrix, drawn from ``key`` at construction (leave unset).

    ``E ||A x||^2 = ||x||^2`` for every fixed ``x``. Matrix products use full float32 precision.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> A = GaussianCS(jax.random.key(0), (8, 8, 1), 20)
        >>> A(jnp.ones((8, 8, 1))).shape
        (20,)
    """

    key: jax.Array
    shape: tuple[int, ...] = static_field()
    m: int = static_field()
    matrix: jax.Array | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        shape = _shape(self.shape)
        m = _count(self.m)
        key = _check_key(self.key)
        if self.matrix is not None:
            raise TypeError("matrix: it is drawn from key at construction; do not pass it")
        matrix = _gaussian_matrix(key, m, math.prod(shape))
        for name, value in (("shape", shape), ("m", m), ("matrix", matrix)):
            object.__setattr__(self, name, value)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.shape

    @property
    def out_shape(self) -> tuple[int]:
        return (self.m,)

    def apply(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, jnp.float32).reshape(-1)
        return jnp.matmul(self.matrix, x, precision=jax.lax.Precision.HIGHEST)

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != self.out_shape:
            raise ValueError(
                f"GaussianCS.adjoint: y expected shape {self.out_shape}, got {tuple(jnp.shape(y))}"
            )
        y = jnp.asarray(y, jnp.float32)
        return jnp.matmul(self.matrix.T, y, precision=jax.lax.Precision.HIGHEST).reshape(self.shape)


@operator_dataclass
class StructuredCS(LinearOperator):
    """Subsampled randomised DCT ``y = P C D x`` of an ``(H, W, C)`` image, output ``(m,)``.

    ``D = diag(s)``, ``s`` iid random signs of the image's shape; ``C`` the orthonormal DCT-II over
    the two spatial axes of each channel (``scipy.fft.dctn(..., axes=(0, 1), norm='ortho')``);
    ``P`` keeps the flattened (row-major ``(H, W, C)``) coefficients at ``rows``, ``m`` distinct
    indices drawn uniformly and stored in increasing order. Rows are orthonormal: ``A A^T = I``.
    The adjoint is closed-form, ``A^T y = D C^T P^T y``.

    Attributes:
        key: the PRNG key the signs and rows are drawn from.
        shape: image shape ``(H, W, C)``; ``n = H W C``.
        m: number of measurements, ``1 <= m <= n``.
        signs: float32 ``(H, W, C)`` of +-1, drawn from ``key`` at construction (leave unset).
        rows: int32 ``(m,)`` kept coefficients, drawn from ``key`` at construction (leave unset).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> A = StructuredCS(jax.random.key(0), (256, 256, 3), 20000)
        >>> y = jnp.ones(20000)
        >>> bool(jnp.allclose(A(A.adjoint(y)), y, atol=1e-4))
        True
    """

    key: jax.Array
    shape: tuple[int, int, int] = static_field()
    m: int = static_field()
    signs: jax.Array | None = dataclasses.field(default=None, repr=False)
    rows: jax.Array | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        shape = _shape(self.shape, ndim=3)
        n = math.prod(shape)
        m = _count(self.m, upper=n)
        key = _check_key(self.key)
        if self.signs is not None or self.rows is not None:
            raise TypeError(
                "signs, rows: they are drawn from key at construction; do not pass them"
            )
        signs, rows = _signs_and_rows(key, shape, m)
        for name, value in (("shape", shape), ("m", m), ("signs", signs), ("rows", rows)):
            object.__setattr__(self, name, value)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return self.shape

    @property
    def out_shape(self) -> tuple[int]:
        return (self.m,)

    def apply(self, x: jax.Array) -> jax.Array:
        return _sampled_dct(self.signs, self.rows, x)

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != self.out_shape:
            raise ValueError(
                f"StructuredCS.adjoint: y expected shape {self.out_shape}, "
                f"got {tuple(jnp.shape(y))}"
            )
        return _sampled_dct_adjoint(self.signs, self.rows, y)
