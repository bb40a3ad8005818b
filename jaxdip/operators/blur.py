"""Blur operator: 2-D convolution of each channel with one kernel, with a choice of boundary.

Convention (true convolution, as :func:`scipy.ndimage.convolve`): with ``(kh, kw) = k.shape`` and
the kernel centre ``(ch, cw) = (kh // 2, kw // 2)`` (for even sizes the centre is the lower of the
two middle indices plus one, e.g. index 1 of a 2-tap kernel, index 2 of a 4-tap kernel),

    y[i, j, c] = sum_{u, v} k[u, v] * x_ext[i + ch - u, j + cw - v, c],

where ``x_ext`` extends ``x`` beyond its borders according to ``boundary``:

- ``'circular'``: periodic (``scipy.ndimage`` mode ``'wrap'``), the FFT diagonalises it;
- ``'reflect'``: half-sample symmetric ``d c b a | a b c d`` (``scipy.ndimage`` mode ``'reflect'``,
  ``numpy.pad`` mode ``'symmetric'``, MATLAB ``'symmetric'``);
- ``'zero'``: zeros outside the image (``scipy.ndimage`` mode ``'constant'``, ``cval=0``);
- ``'valid'``: no extension, only the ``(H - kh + 1, W - kw + 1)`` outputs whose window lies in the
  image: ``y[i, j] = sum_{u,v} k[u, v] x[i + kh - 1 - u, j + kw - 1 - v]``
  (:func:`scipy.signal.convolve2d` with ``mode='valid'``; no centre is involved).

Blurring is a correlation with the flipped kernel ``k[::-1, ::-1]``; a symmetric kernel makes the
two the same. The forward model of (non-blind and blind) deblurring with untrained priors, e.g.
Ren et al., "Neural Blind Deconvolution Using Deep Priors" (SelfDeblur), CVPR 2020, which uses
``'valid'``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip.operators.base import LinearOperator, check_finite, operator_dataclass, static_field

__all__ = ["Blur"]

BOUNDARIES = ("circular", "reflect", "zero", "valid")
METHODS = ("auto", "direct", "fft")
_PAD_MODE = {"circular": "wrap", "reflect": "symmetric", "zero": "constant"}
# 'auto' switches to the FFT path for kernels with more taps than a 15 x 15 kernel.
FFT_MIN_TAPS = 15 * 15 + 1


def _image_shape(shape) -> tuple[int, int, int]:
    """``shape`` as a tuple of three positive ints, or ValueError naming ``shape``."""
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else ()
    if len(dims) != 3 or not all(isinstance(d, (int, np.integer)) and d > 0 for d in dims):
        raise ValueError(f"shape: expected (H, W, C) of positive ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def _valid_conv_direct(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """'valid' convolution of every channel of ``x`` (H, W, C) with ``kernel`` (kh, kw)."""
    flipped = kernel[::-1, ::-1][:, :, None, None]  # convolution = correlation with flipped kernel
    out = jax.lax.conv_general_dilated(
        jnp.moveaxis(x, -1, 0)[..., None],  # channels as batch: (C, H, W, 1)
        flipped.astype(x.dtype),
        window_strides=(1, 1),
        padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST,
    )
    return jnp.moveaxis(out[..., 0], 0, -1)


def _valid_conv_fft(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """:func:`_valid_conv_direct` through a zero-padded real FFT (a linear convolution)."""
    h, w = x.shape[:2]
    kh, kw = kernel.shape
    size = (h + kh - 1, w + kw - 1)
    xf = jnp.fft.rfft2(x, s=size, axes=(0, 1))
    kf = jnp.fft.rfft2(kernel.astype(x.dtype), s=size)
    full = jnp.fft.irfft2(xf * kf[:, :, None], s=size, axes=(0, 1))
    return full[kh - 1 : h, kw - 1 : w].astype(x.dtype)


@operator_dataclass
class Blur(LinearOperator):
    """Per-channel 2-D convolution ``y = k * x`` of an ``(H, W, C)`` image (see module docstring).

    Attributes:
        kernel: real 2-D array ``(kh, kw)``, any size (odd or even), finite; a pytree leaf, so a new
            kernel of the same size does not recompile a jitted function.
        shape: image shape ``(H, W, C)`` (``in_shape``).
        boundary: ``'circular'``, ``'reflect'``, ``'zero'`` (output ``(H, W, C)``) or ``'valid'``
            (output ``(H - kh + 1, W - kw + 1, C)``).
        method: ``'direct'`` (spatial convolution), ``'fft'`` (zero-padded FFT, cost independent of
            the kernel size) or ``'auto'`` (FFT when the kernel has more than 15 x 15 taps).
            Both paths compute the same map up to float32 rounding.

    The adjoint is the transpose computed by :func:`jax.linear_transpose` (correlation with the
    kernel, folded back through the boundary extension).

    Example:
        >>> import jax.numpy as jnp
        >>> A = Blur(jnp.ones((3, 3)) / 9.0, (8, 8, 3), boundary="reflect")
        >>> A(jnp.ones((8, 8, 3))).shape
        (8, 8, 3)
        >>> Blur(jnp.ones((3, 3)) / 9.0, (8, 8, 3), boundary="valid").out_shape
        (6, 6, 3)
    """

    kernel: jax.Array
    shape: tuple[int, int, int] = static_field()
    boundary: str = static_field(default="circular")
    method: str = static_field(default="auto")

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _image_shape(self.shape))
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"boundary: expected one of {BOUNDARIES}, got {self.boundary!r}")
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}")
        if self.kernel is None:
            raise TypeError("kernel: expected a 2-D array (kh, kw), got None")
        if jnp.iscomplexobj(self.kernel):
            dtype = jnp.asarray(self.kernel).dtype
            raise TypeError(f"kernel: expected a real array, got dtype {dtype}")
        kernel = jnp.asarray(self.kernel, jnp.float32)
        if kernel.ndim != 2 or kernel.size == 0:
            raise ValueError(
                f"kernel: expected a non-empty 2-D array (kh, kw), got shape {kernel.shape}"
            )
        check_finite("kernel", kernel)
        h, w, _ = self.shape
        if self.boundary == "valid" and (kernel.shape[0] > h or kernel.shape[1] > w):
            raise ValueError(
                f"kernel: boundary='valid' needs a kernel no larger than the image {(h, w)}, "
                f"got {tuple(kernel.shape)}"
            )
        object.__setattr__(self, "kernel", kernel)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return self.shape

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.shape
        if self.boundary == "valid":
            kh, kw = self.kernel.shape[-2:]  # leading axes: a batch of operators built under vmap
            return (h - int(kh) + 1, w - int(kw) + 1, c)
        return self.shape

    @property
    def uses_fft(self) -> bool:
        """Whether :meth:`apply` takes the FFT path."""
        if self.method == "auto":
            return int(np.prod(self.kernel.shape[-2:])) >= FFT_MIN_TAPS
        return self.method == "fft"

    def apply(self, x: jax.Array) -> jax.Array:
        return _blur(self.kernel, x, self.boundary, self.uses_fft)


@functools.partial(jax.jit, static_argnames=("boundary", "use_fft"))
def _blur(kernel: jax.Array, x: jax.Array, boundary: str, use_fft: bool) -> jax.Array:
    """Extend ``x`` for ``boundary``, then 'valid' convolution (jitted: fast in eager use too)."""
    x = jnp.asarray(x, jnp.float32)
    kh, kw = kernel.shape
    if boundary != "valid":
        ch, cw = kh // 2, kw // 2
        # x_ext[p] = x[p - (kh - 1 - ch)], so the valid output index i reads x_ext[i + kh - 1 - u].
        pads = ((kh - 1 - ch, ch), (kw - 1 - cw, cw), (0, 0))
        x = jnp.pad(x, pads, mode=_PAD_MODE[boundary])
    return (_valid_conv_fft if use_fft else _valid_conv_direct)(x, kernel)
