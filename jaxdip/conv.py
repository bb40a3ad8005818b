"""2-D convolution primitive used by every jaxdip generator.

One image per call: ``x`` is ``(H, W, C_in)``, ``kernel`` is ``(kh, kw, C_in, C_out)`` (HWIO),
``bias`` is ``(C_out,)``; padding is done by the caller (reflection padding in DIP), so the
convolution itself is 'VALID' with an integer stride. This is cross-correlation, as in PyTorch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["conv2d"]


def conv2d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None, stride: int = 1
) -> jax.Array:
    """Valid cross-correlation ``out[i, j, o] = sum_{u,v,c} x[s*i+u, s*j+v, c] k[u, v, c, o] + b[o]``."""
    out = jax.lax.conv_general_dilated(
        x[None],
        kernel,
        window_strides=(stride, stride),
        padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )[0]
    if bias is not None:
        out = out + bias
    return out
