"""Integration operator on [0, 1], the academic example of the Analytic Deep Prior.

``(A x)(t) = int_0^t x(s) ds`` discretised with ``n`` points and the rectangle rule (``h = 1/n``):

    (A x)_i = h * sum_{j <= i} x_j,   i = 0..n-1,

i.e. ``h`` times the lower-triangular matrix of ones (including the diagonal). The continuous
operator is compact with singular values ``1 / ((k - 1/2) pi)``, ``k = 1, 2, ...``; the discrete
ones are ``h / (2 sin((2k - 1) pi / (4n + 2)))``, which agree to ``O((k/n)^2)``.
Dittmer, Kluth, Maass and Otero Baguer, "Regularization by architecture: a deep prior approach
for inverse problems", J. Math. Imaging Vision 2020 (n = 200).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip.operators.base import LinearOperator, operator_dataclass, static_field

__all__ = ["Integration"]


@operator_dataclass
class Integration(LinearOperator):
    """Cumulative rectangle-rule integral ``A x = h cumsum(x)`` on ``(n,)``, ``h = 1/n``.

    The adjoint is the reversed cumulative sum, ``(A^T y)_j = h * sum_{i >= j} y_i``.

    Attributes:
        n: number of grid points (``in_shape == out_shape == (n,)``).

    Example:
        >>> import jax.numpy as jnp
        >>> Integration(4)(jnp.ones(4)).tolist()
        [0.25, 0.5, 0.75, 1.0]
    """

    n: int = static_field()

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 1:
            raise ValueError(f"n: expected a positive int, got {self.n!r}")
        object.__setattr__(self, "n", int(self.n))

    @property
    def in_shape(self) -> tuple[int]:
        return (self.n,)

    @property
    def out_shape(self) -> tuple[int]:
        return (self.n,)

    def apply(self, x: jax.Array) -> jax.Array:
        return jnp.cumsum(jnp.asarray(x, jnp.float32)) / self.n

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != self.out_shape:
            raise ValueError(
                f"Integration.adjoint: y expected shape {self.out_shape}, got {tuple(jnp.shape(y))}"
            )
        return jax.lax.cumsum(jnp.asarray(y, jnp.float32), axis=0, reverse=True) / self.n
