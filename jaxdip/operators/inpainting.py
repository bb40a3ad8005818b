"""Inpainting operator: an elementwise mask, the forward model of DIP inpainting.

``y = m * x`` where ``m`` is a fixed mask (0/1 for missing/observed pixels, or any real weights).
Ulyanov, Vedaldi and Lempitsky, "Deep Image Prior", CVPR 2018, section 4 (inpainting).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip.operators.base import LinearOperator, check_finite, operator_dataclass, static_field

__all__ = ["Inpainting"]


@operator_dataclass
class Inpainting(LinearOperator):
    """Elementwise mask ``A(x) = m * x``; self-adjoint (``A^T = A``).

    Attributes:
        mask: real array of shape ``(H, W, 1)`` (one weight per pixel, shared by all channels) or
            ``(H, W, C)`` (one weight per pixel and channel). Finite values: 0/1 or weights.
        channels: number of image channels ``C`` for a per-pixel ``(H, W, 1)`` mask; ``None``
            (the default) means the mask's own channel count; set to an int at construction.
            ``in_shape == out_shape == (H, W, C)``.

    Example:
        >>> import jax.numpy as jnp
        >>> mask = jnp.ones((4, 4, 1)).at[1, 2].set(0.0)
        >>> A = Inpainting(mask, channels=3)
        >>> float(A(jnp.ones((4, 4, 3))).sum())
        45.0
    """

    mask: jax.Array
    channels: int | None = static_field(default=None)

    def __post_init__(self) -> None:
        if self.mask is None:
            raise TypeError("mask: expected an array of shape (H, W, 1) or (H, W, C), got None")
        if jnp.iscomplexobj(self.mask):
            dtype = jnp.asarray(self.mask).dtype
            raise TypeError(f"mask: expected a real array, got dtype {dtype}")
        mask = jnp.asarray(self.mask, jnp.float32)
        if mask.ndim != 3:
            raise ValueError(
                f"mask: expected shape (H, W, 1) or (H, W, C), got {tuple(mask.shape)} "
                "(add a trailing axis with mask[..., None] for a 2-D mask)"
            )
        check_finite("mask", mask)
        channels = self.channels
        if channels is None:
            channels = int(mask.shape[-1])
        else:
            if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
                raise TypeError(f"channels: expected a positive int or None, got {channels!r}")
            channels = int(channels)
            if channels < 1:
                raise ValueError(f"channels: expected a positive int, got {channels}")
            if mask.shape[-1] not in (1, channels):
                raise ValueError(
                    f"channels: mask has {mask.shape[-1]} channels, expected 1 or {channels}, "
                    f"got channels={channels}"
                )
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "channels", channels)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        h, w = self.mask.shape[-3:-1]  # leading axes: a batch of operators built under vmap
        return (int(h), int(w), self.channels)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.in_shape

    def apply(self, x: jax.Array) -> jax.Array:
        return self.mask * x

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != self.out_shape:
            raise ValueError(
                f"Inpainting.adjoint: y expected shape {self.out_shape}, got {tuple(jnp.shape(y))}"
            )
        return self.mask * y
