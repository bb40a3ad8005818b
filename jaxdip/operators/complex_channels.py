"""Real two-channel images as complex images: the bridge from a real generator to complex data.

A generator outputs real arrays; MRI and phase retrieval act on complex images.
``ChannelsToComplex`` reads channel 0 as the real part and channel 1 as the imaginary part (the
parameterisation ``X = G1(z) + i G2(z)`` used by DIP-style methods for MRI and phase retrieval, e.g.
Darestani & Heckel 2021).
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp

from jaxdip.operators.base import LinearOperator, operator_dataclass, static_field

__all__ = ["ChannelsToComplex"]


@operator_dataclass
class ChannelsToComplex(LinearOperator):
    """``x (H, W, 2) float32 -> x[..., 0] + 1j * x[..., 1] (H, W) complex64``.

    The map is real-linear; its adjoint for the real inner product ``Re <u, v>`` is
    ``y -> stack(Re y, Im y)`` (so it is also the inverse: ``A^H A = I``).

    Args:
        shape: the complex image shape ``(H, W)``; the real input has shape ``(H, W, 2)``.
            ``(H, W, 2)`` is accepted as well and means the same.

    Example:
        >>> import jax.numpy as jnp
        >>> A = ChannelsToComplex((2, 3))
        >>> A(jnp.ones((2, 3, 2)))[0, 0]
        Array(1.+1.j, dtype=complex64)
    """

    shape: tuple[int, ...] = static_field()

    def __post_init__(self) -> None:
        try:
            shape = tuple(operator.index(s) for s in self.shape)
        except TypeError:
            shape = ()
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] != 2) or min(shape) <= 0:
            raise ValueError(
                "ChannelsToComplex: shape expected (H, W) or (H, W, 2) with positive ints, "
                f"got {self.shape!r}"
            )
        object.__setattr__(self, "shape", shape[:2])

    @property
    def in_shape(self):
        return (*self.shape, 2)

    @property
    def out_shape(self):
        return self.shape

    @property
    def out_dtype(self):
        return jnp.dtype(jnp.complex64)

    def apply(self, x: jax.Array) -> jax.Array:
        return jax.lax.complex(x[..., 0].astype(jnp.float32), x[..., 1].astype(jnp.float32))

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != self.out_shape:
            raise ValueError(
                f"ChannelsToComplex.adjoint: y expected shape {self.out_shape}, "
                f"got {tuple(jnp.shape(y))}"
            )
        y = jnp.asarray(y, jnp.complex64)
        return jnp.stack([jnp.real(y), jnp.imag(y)], axis=-1)
