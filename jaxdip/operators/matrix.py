"""Dense matrix operator on flattened arrays, e.g. a measured MPI system matrix.

``y = reshape(M vec(x), out_shape)`` with ``vec`` the row-major flattening. Used for operators
known only as a matrix, such as the calibration-measured system matrix ``S`` of magnetic particle
imaging, ``v = S c`` (Dittmer, Kluth, Maass and Otero Baguer, "Regularization by architecture: a
deep prior approach for inverse problems", J. Math. Imaging Vision 2020).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip.operators.base import LinearOperator, check_finite, operator_dataclass, static_field

__all__ = ["Matrix"]


def _shape_for(name: str, shape, size: int) -> tuple[int, ...]:
    """``shape`` as a tuple of positive ints whose product is ``size``, else ValueError."""
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else None
    if dims is None or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in dims
    ):
        raise ValueError(f"{name}: expected a tuple of positive ints, got {shape!r}")
    if math.prod(dims) != size:
        raise ValueError(
            f"{name}: expected a shape with {size} elements (matrix size), got {dims} "
            f"with {math.prod(dims)}"
        )
    return tuple(int(d) for d in dims)


@operator_dataclass
class Matrix(LinearOperator):
    """``A(x) = M vec(x)`` for a dense real or complex ``(M, N)`` matrix.

    Attributes:
        matrix: 2-D array ``(M, N)``, finite. Real matrices are stored as float32 and act on float32
            arrays; complex ones as complex64 acting on complex64 arrays.
        in_shape: shape of ``x`` (product ``N``); defaults to ``(N,)``.
        out_shape: shape of ``y`` (product ``M``); defaults to ``(M,)``.

    The adjoint is the conjugate transpose ``M^H``. Products use full float32 precision.

    Example:
        >>> import jax.numpy as jnp
        >>> A = Matrix(jnp.arange(6.0).reshape(2, 3), in_shape=(3, 1))
        >>> A(jnp.ones((3, 1))).tolist()
        [3.0, 12.0]
    """

    matrix: jax.Array
    in_shape: tuple[int, ...] | None = static_field(default=None)
    out_shape: tuple[int, ...] | None = static_field(default=None)

    def __post_init__(self) -> None:
        if self.matrix is None:
            raise TypeError("matrix: expected a 2-D array (M, N), got None")
        dtype = jnp.complex64 if jnp.iscomplexobj(self.matrix) else jnp.float32
        matrix = jnp.asarray(self.matrix, dtype)
        if matrix.ndim != 2:
            raise ValueError(
                f"matrix: expected a 2-D array (M, N), got shape {tuple(matrix.shape)}"
            )
        check_finite("matrix", matrix)
        rows, cols = (int(s) for s in matrix.shape)
        in_shape, out_shape = (cols,), (rows,)
        if self.in_shape is not None:
            in_shape = _shape_for("in_shape", self.in_shape, cols)
        if self.out_shape is not None:
            out_shape = _shape_for("out_shape", self.out_shape, rows)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "in_shape", in_shape)
        object.__setattr__(self, "out_shape", out_shape)

    @property
    def in_dtype(self) -> jnp.dtype:
        return jnp.dtype(self.matrix.dtype)

    @property
    def out_dtype(self) -> jnp.dtype:
        return jnp.dtype(self.matrix.dtype)

    def apply(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, self.matrix.dtype).reshape(-1)
        y = jnp.matmul(self.matrix, x, precision=jax.lax.Precision.HIGHEST)
        return y.reshape(self.out_shape)

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != tuple(self.out_shape):
            raise ValueError(
                f"Matrix.adjoint: y expected shape {tuple(self.out_shape)}, "
                f"got {tuple(jnp.shape(y))}"
            )
        y = jnp.asarray(y, self.matrix.dtype).reshape(-1)
        x = jnp.matmul(jnp.conj(self.matrix.T), y, precision=jax.lax.Precision.HIGHEST)
        return x.reshape(self.in_shape)
