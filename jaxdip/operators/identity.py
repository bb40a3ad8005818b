"""Identity operator, the forward model of denoising: y = x + noise."""

from __future__ import annotations

import jax

from jaxdip.operators.base import LinearOperator, operator_dataclass, static_field


@operator_dataclass
class Identity(LinearOperator):
    """``A(x) = x`` on arrays of shape ``shape``.

    Example:
        >>> import jax.numpy as jnp
        >>> Identity((8, 8, 3))(jnp.zeros((8, 8, 3))).shape
        (8, 8, 3)
    """

    shape: tuple[int, ...] = static_field()

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def in_shape(self):
        return self.shape

    @property
    def out_shape(self):
        return self.shape

    def apply(self, x: jax.Array) -> jax.Array:
        return x

    def adjoint(self, y: jax.Array) -> jax.Array:
        return y
