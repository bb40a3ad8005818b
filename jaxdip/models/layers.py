"""Building blocks shared by the jaxdip generators (Flax NNX).

Every spatial convolution goes through :func:`jaxdip.conv.conv2d` (valid cross-correlation, HWIO);
padding is applied here first. Initialisation follows the PyTorch defaults the reference code relies
on: conv/linear weight and bias ``~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, ``fan_in = C_in kh kw``;
normalisation scale 1, shift 0. Normalisation is per channel over the spatial axes (BatchNorm in
training mode with batch 1, eps 1e-5), with no running statistics, so every model's only state is
``nnx.Param``.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> conv = Conv2d(3, 8, 3, rngs=nnx.Rngs(0))
    >>> conv(jnp.zeros((16, 16, 3))).shape
    (16, 16, 8)
    >>> upsample_bilinear2x(jnp.zeros((4, 5, 2))).shape
    (8, 10, 2)
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxdip.conv import CONV_ACTIVATIONS
from jaxdip.conv import PADDINGS as _PAD_MODES
from jaxdip.conv import activation_band_rows, conv2d, pad2d

__all__ = [
    "Frozen",
    "Conv2d",
    "Dense",
    "ChannelNorm",
    "channel_norm",
    "ACTIVATIONS",
    "get_activation",
    "apply_output",
    "pad2d",
    "center_crop",
    "upsample2x",
    "upsample_bilinear2x",
    "upsample_nearest2x",
    "resize_nearest",
    "uniform_init",
    "count_params",
]

PADDINGS = tuple(_PAD_MODES)

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "leaky_relu": CONV_ACTIVATIONS["leaky_relu"][0],
    "relu": CONV_ACTIVATIONS["relu"][0],
    "elu": jax.nn.elu,
    "silu": jax.nn.silu,
    "none": lambda x: x,
}
"""Activations by name; ``leaky_relu`` has slope 0.2 as in DIP. The first two are those
:func:`jaxdip.conv.conv2d` and :func:`upsample2x` can apply inside their row bands
(``activation=``)."""

OUTPUTS = ("sigmoid", "none")


class Frozen(nnx.Param):
    """A ``Param`` that models read through ``stop_gradient``: fixed random features.

    It is a subclass of ``nnx.Param`` so ``nnx.split(model, nnx.Param)`` still covers the whole
    state; its gradient is exactly zero. Select it with the filter ``Frozen`` to exclude it (e.g.
    from weight decay).
    """


# Eagerly on CPU every draw is at least this long: one draw program serves all the parameter tensors
# of the default generators (the largest, 3 x 3 x 132 x 128, has 152,064 numbers).
_EAGER_CPU_DRAW = 1 << 18


def uniform_init(key: jax.Array, shape: tuple[int, ...], bound: float) -> jax.Array:
    """``U(-bound, bound)`` float32 array of ``shape``: the first ``prod(shape)`` numbers of a draw
    whose length is a power of two (at least 1024; eagerly on CPU, at least 2**18), reshaped.

    Called eagerly (building a model outside ``jax.jit``), only the draw is compiled, once per
    length, and the slice is taken and copied on the host (``jax.device_put``, which compiles
    nothing, unlike ``jnp.asarray``): a program per parameter shape costs a compile each, and XLA:CPU
    keeps every compiled program resident. On CPU, where one length covers every tensor of the
    default generators, the DIP skip net (2-core CPU) builds from one draw program instead of 4
    (10 with a program per shape): 0.70 -> 0.39 s, 271 -> 260 MB resident after the build. Under a
    trace (``jax.jit``, ``jax.vmap``, ``nnx.eval_shape``) the slice is traced instead, from the
    shorter draw (2**18 numbers per tensor would be 52 instead of 14 MB of temporaries for the skip
    net's traced initialisation), with the same numbers up to float rounding. On CPU the numbers
    are those of a draw of exactly ``shape`` (XLA's generator fills the array in order), up to the
    last bit where XLA contracts the scaling's multiply-add differently (the DIP fits started from
    them then follow other, equally good trajectories).
    """
    size = math.prod(shape)
    length = max(1024, 1 << max(size - 1, 0).bit_length())
    if not isinstance(key, jax.core.Tracer) and jax.default_backend() == "cpu":
        length = max(length, _EAGER_CPU_DRAW)
    draw = _uniform_draw(key, length, bound)
    if isinstance(draw, jax.core.Tracer):
        return jax.lax.slice(draw, (0,), (size,)).reshape(shape)
    # The copy: a view of the draw would keep all of it alive with the parameter.
    return jax.device_put(np.asarray(draw)[:size].reshape(shape).copy())


@functools.partial(jax.jit, static_argnames="length")
def _uniform_draw(key: jax.Array, length: int, bound: float) -> jax.Array:
    """``length`` numbers ``U(-bound, bound)``, float32 (jitted: one program per length)."""
    # Draw the bits with XLA's RngBitGenerator ('rbg') seeded from the threefry key: compiling
    # threefry's unrolled rounds for every parameter tensor dominates model-build time on CPU.
    rbg = jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl="rbg")
    return jax.random.uniform(rbg, (length,), jnp.float32, -bound, bound)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def _check_positive_int(name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation called ``name`` (a key of :data:`ACTIVATIONS`); ValueError otherwise."""
    return ACTIVATIONS[_check_choice("activation", name, tuple(ACTIVATIONS))]


def apply_output(x: jax.Array, output: str) -> jax.Array:
    """The output non-linearity: ``sigmoid`` or ``none`` (identity)."""
    return jax.nn.sigmoid(x) if output == "sigmoid" else x


def center_crop(x: jax.Array, hw: tuple[int, int]) -> jax.Array:
    """Crop ``x (H, W, C)`` to ``hw``, dropping ``(H - h) // 2`` top rows (as DIP ``Concat``)."""
    h, w = hw
    top = (x.shape[0] - h) // 2
    left = (x.shape[1] - w) // 2
    return x[top : top + h, left : left + w]


def upsample_nearest2x(x: jax.Array) -> jax.Array:
    """Nearest-neighbour x2 upsampling of ``(H, W, C)``: ``out[i, j] = x[i // 2, j // 2]``."""
    return jnp.repeat(jnp.repeat(x, 2, axis=0), 2, axis=1)


def _bilinear2x_axis(x: jax.Array, axis: int) -> jax.Array:
    # Half-pixel centres: output o samples s = (o + 0.5) / 2 - 0.5, clamped to the edges, so
    # out[2i] = x[i] - 0.25 (x[i] - x[i-1]) and out[2i+1] = x[i] + 0.25 (x[i+1] - x[i]).
    n = x.shape[axis]
    first = jax.lax.slice_in_dim(x, 0, 1, axis=axis)
    last = jax.lax.slice_in_dim(x, n - 1, n, axis=axis)
    prev = jnp.concatenate([first, jax.lax.slice_in_dim(x, 0, n - 1, axis=axis)], axis=axis)
    nxt = jnp.concatenate([jax.lax.slice_in_dim(x, 1, n, axis=axis), last], axis=axis)
    even = 0.75 * x + 0.25 * prev
    odd = 0.75 * x + 0.25 * nxt
    out = jnp.stack([even, odd], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return out.reshape(shape)


def upsample_bilinear2x(x: jax.Array) -> jax.Array:
    """Bilinear x2 upsampling of ``(H, W, C)`` with half-pixel centres and edge clamping.

    Equals PyTorch ``nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)``: output
    index ``o`` reads the input at ``s = max((o + 0.5) / 2 - 0.5, 0)``, linearly between
    ``floor(s)`` and ``min(floor(s) + 1, n - 1)``; separable over rows and columns.
    """
    return _bilinear2x_axis(_bilinear2x_axis(x, 0), 1)


UPSAMPLERS = {"bilinear": upsample_bilinear2x, "nearest": upsample_nearest2x}


def upsample2x(x: jax.Array, mode: str, activation: str | None = None) -> jax.Array:
    """x2 upsampling with ``mode`` in ``('bilinear', 'nearest')``, then ``activation``.

    ``activation`` is a key of :data:`jaxdip.conv.CONV_ACTIVATIONS` or None. On CPU, from
    ``2 * MIN_BAND_ROWS`` input rows, it is applied in bands of rows (:func:`_activated_upsample`),
    so that the upsampled pre-activation is never a whole array.

    Example:
        >>> import jax.numpy as jnp
        >>> upsample2x(jnp.array([[[-1.0], [3.0]]]), "bilinear", activation="relu")[0, :, 0]
        Array([0., 0., 2., 3.], dtype=float32)
    """
    if mode not in UPSAMPLERS:
        raise ValueError(f"mode: expected one of {tuple(UPSAMPLERS)}, got {mode!r}")
    if activation is not None and activation not in CONV_ACTIVATIONS:
        raise ValueError(
            f"activation: expected one of {tuple(CONV_ACTIVATIONS)} or None, got {activation!r}"
        )
    if activation is None:
        return UPSAMPLERS[mode](x)
    rows = None
    if jax.default_backend() == "cpu":
        rows = activation_band_rows(x.shape[0], 4 * x.shape[1] * x.shape[2] * x.dtype.itemsize)
    if rows is None:
        return CONV_ACTIVATIONS[activation][0](UPSAMPLERS[mode](x))
    return _activated_upsample(x, mode, activation, rows)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _activated_upsample(x: jax.Array, mode: str, activation: str, rows: int) -> jax.Array:
    """``y = f(up2(x))`` in bands of ``rows`` input rows (``2 rows`` output rows), one
    :func:`jax.lax.map` step each, with the JVP ``dy = f'(z) up2(dx)`` read from the output ``y``.

    The reason is XLA:CPU's fusion, as in :func:`jaxdip.conv._activated_bands`: with ``f`` applied
    to the whole upsampled ``z``, the normalisation's YNNPACK reductions read ``y`` materialised
    while its other fusions and the backward pass recompute ``f(z)`` from ``z``, so both stay
    alive to the backward pass (Deep Decoder at 512x512: the upsampled and activated arrays of
    every scale, 2 x 64 MB at the finest). Inside the loop ``z`` exists one band at a time, and
    everything downstream reads ``y``. A band of input rows ``[r c, r (c + 1))`` is upsampled with
    one halo row each side (the edge row at the image's edges, where the bilinear weights clamp),
    and its ``2 r`` inner output rows are those of the whole array, bit for bit. The tangent's
    upsampling is the whole-array one. Deep Decoder (k = 64, 6 blocks) with its last 1x1
    convolution banded likewise (``Conv2d(..., activation='relu')``), one ``jax.grad`` on a 2-core
    AVX-512 Xeon: XLA temporaries 515 -> 371 MB at 512x512, 129 -> 97 MB at 256x256.
    """
    h, w, c = x.shape
    bands = -(-h // rows)
    own = x
    if bands * rows > h:  # the edge row repeated: the clamped neighbour of the last real row
        own = jnp.pad(x, ((0, bands * rows - h), (0, 0), (0, 0)), mode="edge")
    band_starts = np.arange(bands) * rows
    top = jnp.take(x, np.clip(band_starts - 1, 0, h - 1), axis=0)[:, None]
    bottom = jnp.take(x, np.clip(band_starts + rows, 0, h - 1), axis=0)[:, None]

    def band(parts):
        z = UPSAMPLERS[mode](jnp.concatenate(parts, axis=0))[2 : 2 * rows + 2]
        return CONV_ACTIVATIONS[activation][0](z)

    y = jax.lax.map(band, (top, own.reshape(bands, rows, w, c), bottom))
    return y.reshape(2 * bands * rows, 2 * w, c)[: 2 * h]


@_activated_upsample.defjvp
def _activated_upsample_jvp(mode, activation, rows, primals, tangents):
    y = _activated_upsample(primals[0], mode, activation, rows)
    return y, CONV_ACTIVATIONS[activation][1](y, UPSAMPLERS[mode](tangents[0]))


def resize_nearest(x: jax.Array, size: tuple[int, int]) -> jax.Array:
    """Nearest resize of ``(H, W, C)`` to ``size``: ``out[i, j] = x[i H // h, j W // w]``.

    This is PyTorch ``nn.Upsample(size=..., mode='nearest')`` (floor of ``o * in / out``). One
    static gather per axis; the reverse pass is gathers too (see :func:`_take`).
    """
    h, w = size
    rows = (np.arange(h) * x.shape[0]) // h
    cols = (np.arange(w) * x.shape[1]) // w
    return _take(_take(x, tuple(rows), 0), tuple(cols), 1)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _take(x: jax.Array, index: tuple[int, ...], axis: int) -> jax.Array:
    """``jnp.take(x, index, axis)`` for a static ``index``, whose reverse pass is gathers.

    JAX transposes a gather into a scatter-add, which XLA:CPU runs as a loop over the indices, and
    whose zero-filled output its scheduler allocates early in the forward pass and keeps to the
    backward. The transpose here, :func:`_take_transpose`, is ``K`` gathers, ``K`` the most times
    one index repeats (2 for an upsampling by a factor up to 2). The JVP's tangent is the linear
    transpose of that transpose, as in :func:`jaxdip.conv._unit_stride_taps`, so reverse mode runs
    the gathers and forward mode, exact, runs the scatter-adds instead. Measured on a 2-core
    AVX-512 CPU, ConvDecoder at 256x256 (its largest resize, 157x142 -> 256x256 x 160 channels):
    that resize's reverse pass 2.7 + 7.7 -> 0.7 + 0.8 ms (rows + columns), an Adam step
    0.77 -> 0.72 s, XLA temporaries 885 -> 831 MB; forward mode: that resize's tangent
    3.4 + 1.5 -> 26 + 40 ms, a whole-network ``jax.jvp`` 0.85 -> 1.31 s.
    """
    return jnp.take(x, np.asarray(index), axis=axis)


@_take.defjvp
def _take_jvp(index, axis, primals, tangents):
    (x,), (dx,) = primals, tangents
    out = _take(x, index, axis)
    transpose = jax.linear_transpose(
        lambda ct: _take_transpose(ct, index, axis, x.shape[axis]),
        jax.ShapeDtypeStruct(out.shape, out.dtype),
    )
    return out, transpose(dx)[0]


def _take_transpose(ct: jax.Array, index: tuple[int, ...], axis: int, n: int) -> jax.Array:
    """``d[r] = sum_{i : index[i] = r} ct[i]`` along ``axis``, ``n`` entries, as gathers."""
    sources = [[] for _ in range(n)]
    for i, r in enumerate(index):
        sources[r].append(i)
    out = None
    for k in range(max(len(s) for s in sources)):
        pick = np.array([s[k] if k < len(s) else -1 for s in sources])
        term = jnp.take(ct, np.maximum(pick, 0), axis=axis)
        if (pick < 0).any():
            shape = [1] * ct.ndim
            shape[axis] = n
            term = jnp.where(jnp.asarray(pick >= 0).reshape(shape), term, 0)
        out = term if out is None else out + term
    return out


class Conv2d(nnx.Module):
    """Padded 2-D convolution ``y = conv2d(pad(x, (k - 1) // 2), W, b, stride)``.

    ``kernel`` is HWIO ``(k, k, C_in, C_out)``; weight and bias ``~ U(+-1/sqrt(C_in k^2))``.
    An output size is ``ceil(H / stride)`` for odd ``k``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: str = "reflect",
        use_bias: bool = True,
        rngs: nnx.Rngs,
    ):
        in_channels = _check_positive_int("in_channels", in_channels)
        out_channels = _check_positive_int("out_channels", out_channels)
        self.kernel_size = _check_positive_int("kernel_size", kernel_size)
        self.stride = _check_positive_int("stride", stride)
        self.padding = _check_choice("padding", padding, PADDINGS)
        bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        shape = (kernel_size, kernel_size, in_channels, out_channels)
        self.kernel = nnx.Param(uniform_init(rngs.params(), shape, bound))
        bias = uniform_init(rngs.params(), (out_channels,), bound) if use_bias else None
        self.bias = None if bias is None else nnx.Param(bias)

    def __call__(self, x: jax.Array, activation: str | None = None) -> jax.Array:
        """The convolution of ``x``, then ``activation`` (a key of
        :data:`jaxdip.conv.CONV_ACTIVATIONS` or None; see :func:`jaxdip.conv.conv2d`)."""
        bias = None if self.bias is None else self.bias[...]
        pad = (self.kernel_size - 1) // 2
        return conv2d(
            x, self.kernel[...], bias, self.stride, pad=pad, padding=self.padding,
            activation=activation,
        )


class Dense(nnx.Module):
    """Affine map on the last axis ``y = x W + b``, ``W (in, out)``.

    Default init is PyTorch's ``nn.Linear``: ``W, b ~ U(+-1/sqrt(in))``; ``weight_bound`` overrides
    the weight bound (SIREN).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        weight_bound: float | None = None,
        rngs: nnx.Rngs,
    ):
        in_features = _check_positive_int("in_features", in_features)
        out_features = _check_positive_int("out_features", out_features)
        bound = 1.0 / math.sqrt(in_features)
        wb = bound if weight_bound is None else weight_bound
        self.kernel = nnx.Param(uniform_init(rngs.params(), (in_features, out_features), wb))
        self.bias = nnx.Param(uniform_init(rngs.params(), (out_features,), bound))

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.kernel[...] + self.bias[...]


def _channel_norm_stats(x, eps):
    """Per-channel ``mean`` and ``r = 1 / sqrt(var + eps)`` of ``x (H, W, C)`` (two passes)."""
    mean = jnp.mean(x, axis=(0, 1))
    return mean, jax.lax.rsqrt(jnp.mean(jnp.square(x - mean), axis=(0, 1)) + eps)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def channel_norm(x: jax.Array, scale: jax.Array, shift: jax.Array, eps: float) -> jax.Array:
    """``y = x_hat * scale + shift``, ``x_hat = (x - mean) / sqrt(var + eps)`` over axes (0, 1).

    Per-channel statistics of ``x (H, W, C)`` (biased variance): BatchNorm in training mode on one
    image. Computed as ``y = a x + (shift - a mean)`` with ``a = scale r`` and
    ``r = 1 / sqrt(var + eps)``, as PyTorch's CPU BatchNorm does. Its JVP is written out (the
    batch-statistics gradient of Ioffe and Szegedy 2015, in tangent form), with ``m(.)`` the
    spatial mean::

        dy = a (dx - m(dx) - x_hat m(x_hat dx)) + dscale x_hat + dshift
           = a dx + x w + (dshift - a m(dx) - mean w),
        w  = r (dscale - a m(x_hat dx)),   m(x_hat dx) = r (m(x dx) - mean m(dx))

    It is linear in the tangents, so JAX transposes it for reverse mode, and forward mode works.
    Written in ``x`` rather than ``x_hat``, the backward pass keeps only the norm's input (which the
    network keeps anyway) and three numbers per channel, not a normalised copy: DIP skip net at
    256x256, XLA temporaries of a step 638 -> 562 MB at the same step time. The price is that
    ``m(x dx) - mean m(dx)`` cancels when ``|mean|`` is many standard deviations, a relative error
    of about ``1e-7 |mean| / std`` in float32. Differentiating the formula op by op keeps more and
    makes XLA:CPU run more, slower fusions (``bench/README.md``: 24 -> 18 ms forward and backward
    at 256x256x128).

    Example:
        >>> import jax.numpy as jnp
        >>> y = channel_norm(jnp.arange(8.0).reshape(2, 2, 2), jnp.ones(2), jnp.zeros(2), 1e-5)
        >>> [round(float(v), 3) for v in y[..., 0].ravel()]
        [-1.342, -0.447, 0.447, 1.342]
    """
    mean, inv_std = _channel_norm_stats(x, eps)
    a = scale * inv_std
    return x * a + (shift - mean * a)


@channel_norm.defjvp
def _channel_norm_jvp(eps, primals, tangents):
    x, scale, shift = primals
    dx, dscale, dshift = tangents
    mean, inv_std = _channel_norm_stats(x, eps)
    a = scale * inv_std
    y = x * a + (shift - mean * a)
    # The per-channel terms are formed before they are broadcast, so the transpose reduces the
    # cotangent twice per norm, sum(ct) and sum(ct x), not four times.
    m_dx = jnp.mean(dx, axis=(0, 1))
    m_xhat_dx = inv_std * (jnp.mean(dx * x, axis=(0, 1)) - mean * m_dx)
    w = inv_std * (dscale - a * m_xhat_dx)
    return y, a * dx + x * w + (dshift - a * m_dx - mean * w)


class ChannelNorm(nnx.Module):
    """``y = (x - mean) / sqrt(var + eps) * scale + shift``, mean/var per channel over (H, W).

    BatchNorm in training mode with a batch of one image (biased variance), as in DIP; no running
    statistics. ``scale`` starts at 1, ``shift`` at 0. Computed by :func:`channel_norm`.
    """

    def __init__(self, num_channels: int, *, eps: float = 1e-5):
        num_channels = _check_positive_int("num_channels", num_channels)
        self.eps = float(eps)
        # From NumPy: no program per channel count, as jnp.ones compiles (see uniform_init).
        self.scale = nnx.Param(jax.device_put(np.ones((num_channels,), np.float32)))
        self.shift = nnx.Param(jax.device_put(np.zeros((num_channels,), np.float32)))

    def __call__(self, x: jax.Array) -> jax.Array:
        return channel_norm(x, self.scale[...], self.shift[...], self.eps)


def count_params(model: nnx.Module) -> int:
    """Number of scalars in ``nnx.state(model, nnx.Param)`` (frozen features included)."""
    return int(sum(np.size(v) for v in jax.tree.leaves(nnx.state(model, nnx.Param))))
