"""Phase retrieval forward models: intensities of linear measurements, ``y = |L x|^2``.

Both operators are non-linear (:class:`~jaxdip.operators.base.Operator`) and differentiable; they
map a complex image to real float32 intensities and are invariant to a global phase
``x -> exp(i phi) x``.

* :class:`FourierMagnitude`: far-field (Fraunhofer) diffraction with oversampling, the coherent
  diffraction imaging model used with double-DIP priors (REFERENCE section 5).
* :class:`GaussianPhaseRetrieval`: complex Gaussian measurements, the model of the phase retrieval
  theory (e.g. Candes, Li, Soltanolkotabi, Wirtinger flow, 2015).
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip.operators.base import Operator, check_finite, operator_dataclass, static_field

__all__ = ["FourierMagnitude", "GaussianPhaseRetrieval"]


def _positive_shape(name: str, shape) -> tuple[int, ...]:
    try:
        out = tuple(operator.index(s) for s in shape)
    except TypeError:
        out = ()
    if not out or min(out) <= 0:
        raise ValueError(f"{name}: shape expected a tuple of positive ints, got {shape!r}")
    return out


@operator_dataclass
class FourierMagnitude(Operator):
    """Oversampled Fourier intensities ``y = |fftshift(F(pad(x)))|^2`` of a complex ``x (H, W)``.

    ``pad`` places ``x`` in the top-left corner of an ``(s H, s W)`` array of zeros (``s`` =
    ``oversampling``), ``F`` is the orthonormal 2-D DFT and the output is fftshifted, so the zero
    frequency sits at ``(s H // 2, s W // 2)``; ``sum(y) = ||x||^2``. Oversampling ``s >= 2`` makes
    the intensities determine the autocorrelation of ``x`` (the usual uniqueness condition). Besides
    the global phase, ``y`` is invariant to the conjugate flip ``x -> conj(x[::-1, ::-1])`` and to
    shifts of ``x`` inside the padded frame.

    Args:
        shape: ``(H, W)`` of the complex object.
        oversampling: integer factor ``s >= 2``.

    Example:
        >>> import jax.numpy as jnp
        >>> A = FourierMagnitude((4, 4))
        >>> y = A(jnp.ones((4, 4), jnp.complex64))
        >>> y.shape, float(y.sum())
        ((8, 8), 16.0)
    """

    shape: tuple[int, int] = static_field()
    oversampling: int = static_field(default=2)

    def __post_init__(self) -> None:
        shape = _positive_shape("FourierMagnitude", self.shape)
        if len(shape) != 2:
            raise ValueError(f"FourierMagnitude: shape expected (H, W), got {self.shape!r}")
        try:
            s = operator.index(self.oversampling)
        except TypeError:
            raise TypeError(
                f"FourierMagnitude: oversampling expected an int >= 2, got {self.oversampling!r}"
            ) from None
        if s < 2:
            raise ValueError(f"FourierMagnitude: oversampling expected an int >= 2, got {s}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "oversampling", s)

    @property
    def in_shape(self):
        return self.shape

    @property
    def out_shape(self):
        return (self.oversampling * self.shape[0], self.oversampling * self.shape[1])

    @property
    def in_dtype(self):
        return jnp.dtype(jnp.complex64)

    def field(self, x: jax.Array) -> jax.Array:
        """The complex far field ``fftshift(F(pad(x)))`` whose squared modulus is measured."""
        h, w = self.shape
        big_h, big_w = self.out_shape
        padded = jnp.pad(jnp.asarray(x, jnp.complex64), ((0, big_h - h), (0, big_w - w)))
        return jnp.fft.fftshift(jnp.fft.fft2(padded, norm="ortho"))

    def apply(self, x: jax.Array) -> jax.Array:
        f = self.field(x)
        return jnp.real(f) ** 2 + jnp.imag(f) ** 2


@operator_dataclass
class GaussianPhaseRetrieval(Operator):
    """Gaussian phase retrieval ``y = |G vec(x)|^2``, ``G`` an ``m x n`` complex Gaussian matrix.

    ``G`` has i.i.d. entries ``CN(0, 1/m)`` (real and imaginary parts ``N(0, 1/(2m))``), so
    ``E[sum(y)] = ||x||^2``; ``n = prod(shape)`` and ``vec`` is the row-major ravel. The matrix is
    drawn from ``key`` once at construction and stored as a leaf (``m n`` complex64 entries).

    Args:
        key: a ``jax.random.key``.
        shape: shape of the complex signal ``x``.
        m: number of measurements.
        matrix: the sensing matrix; leave it out to draw it from ``key`` (it is a field so that the
            operator can be rebuilt as a pytree).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> A = GaussianPhaseRetrieval(jax.random.key(0), (4, 4), 64)
        >>> A(jnp.ones((4, 4), jnp.complex64)).shape
        (64,)
    """

    key: jax.Array
    shape: tuple[int, ...] = static_field()
    m: int = static_field()
    matrix: jax.Array | None = None

    def __post_init__(self) -> None:
        shape = _positive_shape("GaussianPhaseRetrieval", self.shape)
        try:
            m = operator.index(self.m)
        except TypeError:
            raise TypeError(
                f"GaussianPhaseRetrieval: m expected a positive int, got {self.m!r}"
            ) from None
        if m < 1:
            raise ValueError(f"GaussianPhaseRetrieval: m expected a positive int, got {m}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "m", m)
        n = int(np.prod(shape))
        matrix = self.matrix
        if matrix is None:
            key = self.key
            typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
            raw = isinstance(key, jax.Array) and key.dtype == jnp.uint32 and key.shape == (2,)
            if not (typed or raw):
                raise TypeError(
                    "GaussianPhaseRetrieval: key expected a jax.random.key, "
                    f"got {type(self.key).__name__}"
                )
            k_re, k_im = jax.random.split(self.key)
            scale = 1.0 / np.sqrt(2.0 * m)
            matrix = jax.lax.complex(
                scale * jax.random.normal(k_re, (m, n), jnp.float32),
                scale * jax.random.normal(k_im, (m, n), jnp.float32),
            )
        elif isinstance(matrix, (jax.Array, np.ndarray)):
            # Rebuilt operators (jax.vmap outputs) may carry leading batch axes.
            if matrix.ndim < 2 or tuple(matrix.shape[-2:]) != (m, n):
                raise ValueError(
                    f"GaussianPhaseRetrieval: matrix expected shape ({m}, {n}), "
                    f"got {tuple(matrix.shape)}"
                )
            check_finite("GaussianPhaseRetrieval: matrix", matrix)
            matrix = jnp.asarray(matrix, jnp.complex64)
        object.__setattr__(self, "matrix", matrix)

    @property
    def in_shape(self):
        return self.shape

    @property
    def out_shape(self):
        return (self.m,)

    @property
    def in_dtype(self):
        return jnp.dtype(jnp.complex64)

    def apply(self, x: jax.Array) -> jax.Array:
        x = jnp.ravel(jnp.asarray(x, jnp.complex64))
        z = jnp.matmul(self.matrix, x, precision=jax.lax.Precision.HIGHEST)
        return jnp.real(z) ** 2 + jnp.imag(z) ** 2
