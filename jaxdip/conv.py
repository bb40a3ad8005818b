"""2-D convolution primitive used by every jaxdip generator.

One image per call: ``x`` is ``(H, W, C_in)``, ``kernel`` is ``(kh, kw, C_in, C_out)`` (HWIO),
``bias`` is ``(C_out,)``; padding is done by the caller (reflection padding in DIP), so the
convolution itself is 'VALID' with an integer stride. This is cross-correlation, as in PyTorch.

On GPU/TPU the convolution is ``lax.conv_general_dilated``. On CPU, where XLA's convolution
(above all its weight gradient) is several times slower than the matrix multiply it could be, the
convolution is written as matrix multiplies (the backend is read at trace time):

* stride ``s > 1`` becomes a stride-1 convolution by space-to-depth: the input is cut into
  ``s x s`` phases stacked on the channel axis and the kernel (zero-padded to a multiple of ``s``)
  is rearranged to match, ``ceil(k/s) x ceil(k/s)`` taps of ``s^2 C_in`` channels;
* a ``1 x 1`` kernel is one matrix product ``(H W, C_in) @ (C_in, C_out)``;
* a ``k x k`` stride-1 kernel uses the flattened-row trick: with ``x`` flattened to
  ``(H W, C_in)``, tap ``(u, v)`` reads the contiguous rows ``[u W + v, u W + v + H_o W)``, so the
  output over a ``W``-wide grid is ``P @ K`` with ``P = [X[rows_uv]]_{u,v}`` the
  ``(H_o W, k^2 C_in)`` patch matrix and ``K`` reshaped to ``(k^2 C_in, C_out)`` (the last
  ``k - 1`` columns of each output row are discarded): one large matrix product instead of XLA's
  convolution. Its custom VJP computes the input gradient as the same product on the zero-padded
  cotangent with the flipped, transposed kernel (a full correlation) and the kernel gradient as
  ``P^T G`` with ``G`` the cotangent widened to ``W`` columns by zeros.

Example:
    >>> import jax.numpy as jnp
    >>> from jaxdip.conv import conv2d
    >>> conv2d(jnp.ones((8, 8, 3)), jnp.ones((3, 3, 3, 4)), stride=2).shape
    (3, 3, 4)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["conv2d"]


def conv2d(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None, stride: int = 1
) -> jax.Array:
    """Valid cross-correlation ``out[i, j, o] = sum_{u,v,c} x[s*i+u, s*j+v, c] k[u, v, c, o] + b[o]``.

    Args:
        x: input ``(H, W, C_in)``.
        kernel: ``(kh, kw, C_in, C_out)`` (HWIO), with ``kh <= H`` and ``kw <= W``.
        bias: optional ``(C_out,)``.
        stride: positive integer stride ``s`` used on both spatial axes.

    Returns:
        ``(floor((H - kh) / s) + 1, floor((W - kw) / s) + 1, C_out)``.
    """
    if x.ndim != 3:
        raise ValueError(f"conv2d: x expected shape (H, W, C_in), got {tuple(x.shape)}")
    if kernel.ndim != 4 or kernel.shape[2] != x.shape[2]:
        raise ValueError(
            f"conv2d: kernel expected shape (kh, kw, {x.shape[2]}, C_out), got {tuple(kernel.shape)}"
        )
    if kernel.shape[0] > x.shape[0] or kernel.shape[1] > x.shape[1]:
        raise ValueError(
            f"conv2d: kernel spatial size {kernel.shape[:2]} exceeds x spatial size {x.shape[:2]}"
        )
    if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
        raise ValueError(f"conv2d: stride expected a positive int, got {stride!r}")
    if bias is not None and tuple(bias.shape) != (kernel.shape[3],):
        raise ValueError(f"conv2d: bias expected shape ({kernel.shape[3]},), got {tuple(bias.shape)}")
    if jax.default_backend() == "cpu":
        out = _conv_cpu(x, kernel, stride)
    else:
        out = _conv_lax(x, kernel, stride)
    if bias is not None:
        out = out + bias
    return out


def _conv_lax(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """XLA's native convolution (the accelerator path and the test reference)."""
    return jax.lax.conv_general_dilated(
        x[None],
        kernel,
        window_strides=(stride, stride),
        padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )[0]


def _conv_cpu(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """Matrix-multiply formulation for CPU (see the module docstring)."""
    kh, kw, cin, cout = kernel.shape
    ho = (x.shape[0] - kh) // stride + 1
    wo = (x.shape[1] - kw) // stride + 1
    if stride > 1:
        x, kernel = _space_to_depth(x, kernel, stride, ho, wo)
        kh, kw = kernel.shape[:2]
    x = x[: ho + kh - 1, : wo + kw - 1]
    if kh == 1 and kw == 1:
        return jnp.einsum("hwc,co->hwo", x, kernel[0, 0])
    return _conv_rows(x, kernel)


def _space_to_depth(
    x: jax.Array, kernel: jax.Array, s: int, ho: int, wo: int
) -> tuple[jax.Array, jax.Array]:
    """Rewrite a stride-``s`` valid convolution as a stride-1 one on ``s x s`` phases.

    ``x[s i + u, s j + v] = xs[i + a, j + b, (p, q, c)]`` with ``u = s a + p``, ``v = s b + q``.
    """
    kh, kw, cin, cout = kernel.shape
    th, tw = math.ceil(kh / s), math.ceil(kw / s)
    kernel = jnp.pad(kernel, ((0, th * s - kh), (0, tw * s - kw), (0, 0), (0, 0)))
    kernel = kernel.reshape(th, s, tw, s, cin, cout).transpose(0, 2, 1, 3, 4, 5)
    kernel = kernel.reshape(th, tw, s * s * cin, cout)
    hs, ws = ho + th - 1, wo + tw - 1
    x = x[: s * hs, : s * ws]
    x = jnp.pad(x, ((0, s * hs - x.shape[0]), (0, s * ws - x.shape[1]), (0, 0)))
    x = x.reshape(hs, s, ws, s, cin).transpose(0, 2, 1, 3, 4).reshape(hs, ws, s * s * cin)
    return x, kernel


def _row_patches(x: jax.Array, kh: int, kw: int) -> jax.Array:
    """``(H_o W, kh kw C_in)`` patch matrix whose column block ``(u, v)`` is ``X[rows_uv]``."""
    h, w, cin = x.shape
    n = (h - kh + 1) * w
    xf = jnp.pad(x.reshape(h * w, cin), ((0, kw - 1), (0, 0)))
    return jnp.concatenate([xf[u * w + v : u * w + v + n] for u in range(kh) for v in range(kw)], -1)


def _rows_forward(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Stride-1 valid correlation as one product of the row-window patches with the kernel."""
    h, w, _ = x.shape
    kh, kw, _, cout = kernel.shape
    ho, wo = h - kh + 1, w - kw + 1
    out = _row_patches(x, kh, kw) @ kernel.reshape(-1, cout)
    return out.reshape(ho, w, cout)[:, :wo]


@jax.custom_vjp
def _conv_rows(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return _rows_forward(x, kernel)


def _conv_rows_fwd(x, kernel):
    return _rows_forward(x, kernel), (x, kernel)


def _conv_rows_bwd(res, g):
    # Patches are recomputed rather than saved: they are kh kw times the size of x.
    x, kernel = res
    h, w, cin = x.shape
    kh, kw, _, cout = kernel.shape
    g_pad = jnp.pad(g, ((kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    dx = _rows_forward(g_pad, kernel[::-1, ::-1].transpose(0, 1, 3, 2))
    gw = jnp.pad(g, ((0, 0), (0, kw - 1), (0, 0))).reshape(-1, cout)
    dk = (_row_patches(x, kh, kw).T @ gw).reshape(kh, kw, cin, cout)
    return dx, dk


_conv_rows.defvjp(_conv_rows_fwd, _conv_rows_bwd)
