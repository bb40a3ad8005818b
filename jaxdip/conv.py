"""2-D convolution primitive used by every jaxdip generator.

One image per call: ``x`` is ``(H, W, C_in)``, ``kernel`` is ``(kh, kw, C_in, C_out)`` (HWIO),
``bias`` is ``(C_out,)``; ``x`` is first padded by ``pad`` on both spatial axes (``padding``:
``'reflect'``, excluding the edge sample as PyTorch ``ReflectionPad2d``; ``'zero'``;
``'replicate'``), then convolved 'VALID' with an integer stride. This is cross-correlation, as in
PyTorch.

On GPU/TPU it is ``jnp.pad`` and ``lax.conv_general_dilated``. On CPU, where XLA's convolution
(above all its gradients) runs at a fraction of the machine's matrix-multiply rate, it is written as
one matrix product per stride phase, with ``jnp`` ops that XLA fuses with the normalisation around
them (the backend is read at trace time). JAX differentiates it in both modes; only the stride-1
column taps carry a custom JVP, whose tangent is the transpose of a hand-written fold, so that the
backward pass sums each input column's taps in one pass:

* column taps with the padding folded in: ``xc[r, j] = [xp[r, s j + v]]_{v < kw}`` for the padded
  ``xp``, an ``(H_p, W_o, kw C_in)`` array; the rows are padded first (``jnp.pad``), and each tap
  ``v`` is read straight from the unpadded columns as strided slices plus the few padded edge
  columns, so the column-padded array is never built (one pass fewer each way);
* row taps by output shifts: for each stride phase ``p < s``, the rows ``xc[p + s m]`` are
  multiplied at once by the kernel rows ``u = p + s a`` stacked side by side,
  ``Y_p = xc[p::s] @ [K_u]_a`` with ``K_u`` of shape ``(kw C_in, C_out)``, and
  ``out[i] = sum_{p, a} Y_p[i + a, a]``.

There are no zero taps for strides and no discarded columns; each kernel row's product covers
``ceil(kh / s) - 1`` rows of ``xc`` more than the output needs (with ``kh = 3``, stride 1: ``2 / H``
more multiply-adds than the convolution's, under 1% from ``H = 256``). The products are
``(H_p W_o, kw C_in) @ (kw C_in, ceil(kh / s) C_out)`` with ``H_p ~ H / s``, large enough for
XLA:CPU's matrix kernels to run near the machine's peak, and the copies are ``xc`` (``kw`` times
the input) and the shifted sums, which XLA fuses with the normalisation around them. Measured on
a 2-core AVX-512 CPU for the DIP skip net at 256x256 (``bench/step_time.py``): 0.91 s per Adam
step against 1.18 s for a 9-tap im2col with a custom VJP and PyTorch's 0.92 s; folding the padding
into the taps then took the norm-pad-conv chain of its finest scale from 335 to 300 ms.

Reverse mode would keep each layer's column taps (``kw`` times its input) for the kernel gradient,
and the backward pass of a layer writes products ``ceil(kh / s)`` times its output. Layers whose
taps exceed :data:`BAND_BYTES` (32 MiB; 127 MB for 256x256x160) therefore run in bands of output
rows (:func:`_conv_bands`), one :func:`jax.lax.map` step per band under :func:`jax.checkpoint`:
the backward pass keeps only the input rows, rebuilds one band's taps at a time and writes
band-sized products. An ``activation`` passed to :func:`conv2d` is applied inside the bands
(:func:`_activated_bands`), so that the pre-activation output is not kept either; 1x1 layers with
an activation run in bands for that reason alone, from ``2 * MIN_BAND_ROWS`` output rows.
Measured on a 2-core AVX-512 Xeon with ``bench/step_time.py``, at 256x256 (before the activation
moved inside): ConvDecoder step 0.85 -> 0.95 s, XLA temporaries 805 -> 553 MB, process peak
1209 -> 976 MB (deepinv's: 1136); skip net 0.59 -> 0.62 s, 562 -> 495 MB, 1065 -> 1002 MB. The
extra time is the taps built twice. ``jaxdip.conv.BAND_BYTES = None`` (before tracing) keeps whole layers.

Example:
    >>> import jax.numpy as jnp
    >>> from jaxdip.conv import conv2d
    >>> conv2d(jnp.ones((8, 8, 3)), jnp.ones((3, 3, 3, 4)), stride=2).shape
    (3, 3, 4)
    >>> conv2d(jnp.ones((8, 8, 3)), jnp.ones((3, 3, 3, 4)), pad=1, padding="reflect").shape
    (8, 8, 4)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["conv2d", "pad2d", "PADDINGS", "CONV_ACTIVATIONS"]


PADDINGS = {"reflect": "reflect", "zero": "constant", "replicate": "edge"}
"""Padding modes of :func:`conv2d` and the ``numpy.pad`` / ``jnp.pad`` mode each one is."""

CONV_ACTIVATIONS = {
    "relu": (jax.nn.relu, lambda y, dz: jnp.where(y > 0, dz, jnp.zeros_like(dz))),
    "leaky_relu": (
        lambda z: jax.nn.leaky_relu(z, 0.2),
        lambda y, dz: jnp.where(y >= 0, dz, 0.2 * dz),
    ),
}
"""Activations :func:`conv2d` applies to its output, by name: ``(f, tangent)`` with
``tangent(y, dz) = f'(z) dz`` read from the output ``y = f(z)`` (JAX's derivatives at 0: 0 for the
ReLU, 1 for the leaky ReLU, slope 0.2 as in DIP)."""


def conv2d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    stride: int = 1,
    *,
    pad: int = 0,
    padding: str = "zero",
    activation: str | None = None,
) -> jax.Array:
    """``out[i, j, o] = f(sum_{u,v,c} xp[s*i+u, s*j+v, c] k[u, v, c, o] + b[o])``, ``xp``: padded
    ``x``, ``f``: the ``activation`` (identity by default).

    Args:
        x: input ``(H, W, C_in)``.
        kernel: ``(kh, kw, C_in, C_out)`` (HWIO), with ``kh <= H + 2 pad`` and ``kw <= W + 2 pad``.
        bias: optional ``(C_out,)``.
        stride: positive integer stride ``s`` used on both spatial axes.
        pad: samples added on each side of both spatial axes before the 'VALID' convolution.
        padding: ``'reflect'``, ``'zero'`` or ``'replicate'`` (``numpy.pad`` ``reflect`` /
            ``constant`` / ``edge``).
        activation: ``f``, a key of :data:`CONV_ACTIVATIONS` (``'relu'``, ``'leaky_relu'``), or
            None for none. On CPU a banded layer (:func:`_conv_bands`) applies it inside each
            band, so the pre-activation output is never a whole array and the backward pass
            keeps only the activated output (which the next layer keeps anyway).

    Returns:
        ``(floor((H + 2 pad - kh) / s) + 1, floor((W + 2 pad - kw) / s) + 1, C_out)``.
    """
    if x.ndim != 3:
        raise ValueError(f"conv2d: x expected shape (H, W, C_in), got {tuple(x.shape)}")
    if kernel.ndim != 4 or kernel.shape[2] != x.shape[2]:
        raise ValueError(
            f"conv2d: kernel expected shape (kh, kw, {x.shape[2]}, C_out), got {tuple(kernel.shape)}"
        )
    if not isinstance(pad, int) or isinstance(pad, bool) or pad < 0:
        raise ValueError(f"conv2d: pad expected an int >= 0, got {pad!r}")
    if padding not in PADDINGS:
        raise ValueError(f"conv2d: padding expected one of {tuple(PADDINGS)}, got {padding!r}")
    padded_hw = (x.shape[0] + 2 * pad, x.shape[1] + 2 * pad)
    if kernel.shape[0] > padded_hw[0] or kernel.shape[1] > padded_hw[1]:
        raise ValueError(
            f"conv2d: kernel spatial size {kernel.shape[:2]} exceeds the padded x spatial size "
            f"{padded_hw}"
        )
    if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
        raise ValueError(f"conv2d: stride expected a positive int, got {stride!r}")
    if bias is not None and tuple(bias.shape) != (kernel.shape[3],):
        raise ValueError(f"conv2d: bias expected shape ({kernel.shape[3]},), got {tuple(bias.shape)}")
    if activation is not None and activation not in CONV_ACTIVATIONS:
        raise ValueError(
            f"conv2d: activation expected one of {tuple(CONV_ACTIVATIONS)} or None, "
            f"got {activation!r}"
        )
    if jax.default_backend() == "cpu":
        return _conv_cpu(x, kernel, bias, stride, pad, padding, activation)
    out = _conv_lax(pad2d(x, pad, padding), kernel, stride)
    return _activate(out if bias is None else out + bias, activation)


def _activate(z: jax.Array, activation: str | None) -> jax.Array:
    return z if activation is None else CONV_ACTIVATIONS[activation][0](z)


def pad2d(x: jax.Array, pad: int, padding: str, axes: tuple[int, ...] = (0, 1)) -> jax.Array:
    """Pad ``axes`` of ``x (H, W, C)`` by ``pad`` each side; ``padding`` is a key of :data:`PADDINGS`.

    ``reflect`` excludes the edge sample (PyTorch ``ReflectionPad2d``).
    """
    if pad == 0:
        return x
    widths = [(pad, pad) if a in axes else (0, 0) for a in range(x.ndim)]
    return jnp.pad(x, widths, mode=PADDINGS[padding])


def _conv_lax(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """XLA's native convolution (the accelerator path and the test reference)."""
    return jax.lax.conv_general_dilated(
        x[None],
        kernel,
        window_strides=(stride, stride),
        padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )[0]


def _column_tap(x: jax.Array, source: np.ndarray, stride: int) -> jax.Array:
    """``x[:, source]`` (``source[j] < 0``: a zero column) as a few slices, no gather.

    Runs of ``source`` that step by ``stride`` are one strided slice each (the interior is one run);
    the padded edges add a column or a block of zeros each.
    """
    h, _, c = x.shape
    pieces = []
    j, n = 0, len(source)
    while j < n:
        k = j + 1
        if source[j] < 0:
            while k < n and source[k] < 0:
                k += 1
            pieces.append(jnp.zeros((h, k - j, c), x.dtype))
        else:
            while k < n and source[k] >= 0 and source[k] - source[k - 1] == stride:
                k += 1
            first = int(source[j])
            last = first + stride * (k - j - 1)
            pieces.append(jax.lax.slice(x, (0, first, 0), (h, last + 1, c), (1, stride, 1)))
        j = k
    return pieces[0] if len(pieces) == 1 else jnp.concatenate(pieces, axis=1)


def _conv_cpu(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    stride: int = 1,
    pad: int = 0,
    padding: str = "zero",
    activation: str | None = None,
) -> jax.Array:
    """Column taps and one matrix product per stride phase (see the module docstring), in bands of
    output rows when the taps are large (:func:`_band_rows`), or for a 1x1 kernel with an
    ``activation``, to apply it in the bands (:func:`activation_band_rows`); then the activation.
    """
    kh, kw, cin, cout = kernel.shape
    wo = (x.shape[1] + 2 * pad - kw) // stride + 1
    ho = (x.shape[0] + 2 * pad - kh) // stride + 1
    rows = _band_rows(ho, wo, kh, kw, cin, stride, x.dtype.itemsize)
    if kh * kw == 1 and activation is not None:  # no taps: bands for the activation alone
        rows = activation_band_rows(ho, wo * cout * x.dtype.itemsize)
    if rows is None:
        return _activate(_conv_whole(x, kernel, bias, stride, pad, padding), activation)
    if activation is None:
        return _conv_bands(x, kernel, bias, stride, pad, padding, rows)
    return _activated_bands(x, kernel, bias, stride, pad, padding, rows, activation)


def _conv_whole(x, kernel, bias, stride, pad, padding):
    """:func:`_conv_cpu` in one pass, without activation."""
    xc = _taps(x, kernel.shape[1], stride, pad, padding, True)
    return _row_products(xc, kernel, bias, stride)


BAND_BYTES: int | None = 32 * 2**20
"""Largest column-tap array (bytes) of one band of :func:`_conv_bands`; ``None``: no bands (the
whole layer's taps are kept for the backward pass: faster, more memory). Read at trace time."""

MIN_BAND_ROWS = 32
"""Fewest output rows per band: each band recomputes ``kh - s`` halo rows (6% at 32 rows)."""


def _band_rows(ho, wo, kh, kw, cin, stride, itemsize) -> int | None:
    """Output rows per band, or None for one pass: the largest band whose column taps fit in
    :data:`BAND_BYTES`, at least :data:`MIN_BAND_ROWS`, balanced over the bands; None for 1x1
    kernels (no taps to save), when one band would hold all ``ho`` rows and when a band would be
    shorter than its halo.
    """
    if BAND_BYTES is None or kh * kw == 1:
        return None
    row_bytes = stride * wo * kw * cin * itemsize
    rows = max(MIN_BAND_ROWS, BAND_BYTES // row_bytes)
    if rows >= ho:
        return None
    bands = -(-ho // rows)
    rows = -(-ho // bands)
    return rows if stride * rows >= kh - stride else None


def activation_band_rows(n: int, row_bytes: int) -> int | None:
    """Rows per band for a row-local map whose only reason for bands is the activation after it
    (a 1x1 convolution, an upsampling), or None for one pass.

    There are no taps to save, and two bands already keep the pre-activation from being a whole
    array (:func:`_activated_bands`, :func:`jaxdip.models.layers.upsample2x`): at least two bands
    once there are ``2 * MIN_BAND_ROWS`` rows, more only to keep a band's output (``row_bytes``
    per row) within :data:`BAND_BYTES`. None when ``BAND_BYTES`` is None.
    """
    if BAND_BYTES is None or n < 2 * MIN_BAND_ROWS:
        return None
    bands = max(2, -(-n // max(MIN_BAND_ROWS, BAND_BYTES // row_bytes)))
    return -(-n // bands)


def _taps(x, kw, stride, pad, padding, pad_rows):
    """:func:`_column_taps`, through the custom-JVP :func:`_unit_stride_taps` at stride 1."""
    if stride == 1:
        return _unit_stride_taps(x, kw, pad, padding, pad_rows)
    return _column_taps(x, kw, stride, pad, padding, pad_rows)


def _row_products(xc: jax.Array, kernel: jax.Array, bias: jax.Array | None, s: int) -> jax.Array:
    """``out[i] = sum_u xc[s i + u] @ K_u + b`` as one product per stride phase ``p < s``.

    The bias is added to the first shifted term, not to the finished sum: XLA:CPU treats a last
    ``sum + broadcast(bias)`` as cheap to duplicate and then recomputes the whole shifted sum in
    every consumer, each reading the ``ceil(kh / s)`` times larger product and keeping it alive
    into the backward pass. With the bias inside, the sum is materialised once (skip net at 256:
    XLA temporaries 744 -> 614 MB).
    """
    kh, kw, cin, cout = kernel.shape
    ho = (xc.shape[0] - kh) // s + 1
    wo = xc.shape[1]
    krows = kernel.reshape(kh, kw * cin, cout)
    out = None
    for p in range(min(s, kh)):
        taps = range(p, kh, s)
        m = ho + len(taps) - 1
        rows = jax.lax.slice(xc, (p, 0, 0), (p + s * (m - 1) + 1, wo, kw * cin), (s, 1, 1))
        kp = jnp.concatenate([krows[u] for u in taps], axis=1)
        y = jnp.dot(rows.reshape(m * wo, kw * cin), kp).reshape(m, wo, len(taps), cout)
        for a in range(len(taps)):
            term = y[a : a + ho, :, a]
            if out is None:
                out = term if bias is None else term + bias
            else:
                out = out + term
    return out


def _conv_bands(x, kernel, bias, stride, pad, padding, rows, activation=None):
    """:func:`_conv_cpu` in bands of ``rows`` output rows, one :func:`jax.lax.map` step each.

    Band ``c`` reads the row-padded input rows ``[s rows c, s rows (c + 1) + kh - s)``: its own
    ``s rows`` (a reshape of the row-padded input) and ``kh - s`` halo rows from the next band. The
    band's body is under :func:`jax.checkpoint`, so reverse mode saves the input rows rather than
    the ``kw`` times larger column taps and rebuilds each band's taps in the backward pass; the
    backward's products and folds are then band-sized too. Forward mode is unchanged. The
    ``activation`` is applied to each band's output (see :func:`_activated_bands`).
    """
    kh, kw, _, _ = kernel.shape
    s = stride
    xr = pad2d(x, pad, padding, axes=(0,))
    ho = (xr.shape[0] - kh) // s + 1
    bands = -(-ho // rows)
    step = s * rows
    halo = max(kh - s, 0)
    total = (bands + 1) * step if halo else bands * step
    if total > xr.shape[0]:
        xr = jnp.pad(xr, ((0, total - xr.shape[0]), (0, 0), (0, 0)))
    own = xr[: bands * step].reshape(bands, step, *xr.shape[1:])
    parts = (own,)
    if halo:
        parts += (xr[step:total].reshape(bands, step, *xr.shape[1:])[:, :halo],)

    @jax.checkpoint
    def band(rows_in):
        window = jnp.concatenate(rows_in, axis=0)  # the own rows alone when there is no halo
        out = _row_products(_taps(window, kw, s, pad, padding, False), kernel, bias, s)
        return _activate(out, activation)

    out = jax.lax.map(band, parts)
    return out.reshape(bands * rows, *out.shape[2:])[:ho]


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5, 6, 7))
def _activated_bands(x, kernel, bias, stride, pad, padding, rows, activation):
    """:func:`_conv_bands` with ``y = f(z)`` applied in each band, and the JVP
    ``dy = f'(z) dz`` read from the output ``y`` (:data:`CONV_ACTIVATIONS`).

    Applied to the whole output, ``f`` leaves the pre-activation ``z`` to the backward pass beside
    ``y``: XLA:CPU recomputes the cheap ``f(z)`` in each consumer rather than read ``y``, so ``z``
    stays alive for the derivative's mask. Applied in the bands under JAX's own JVP, the backward
    pass recomputes each band's products to get ``z`` (ConvDecoder step at 256x256 0.95 -> 1.10 s).
    Here ``z`` is never whole, ``dz`` is the banded convolution of the tangents (for a 1x1 kernel,
    which has no taps to save, the whole one: one product), and ``f'`` reads ``y``, which the next
    layer keeps anyway. ConvDecoder fit loop on a 2-core AVX-512 Xeon
    (``bench/step_time.py``, ReLU outside -> inside): XLA temporaries 553 -> 508 MB at 256x256 and
    1937 -> 1617 MB at 512x512, process peak 944-962 -> 916-927 MB and 2337 -> 2027 MB, steps
    0.94 -> 0.93 s and 3.74 -> 3.67 s; the gradients are bit-for-bit the same.
    """
    return _conv_bands(x, kernel, bias, stride, pad, padding, rows, activation)


@_activated_bands.defjvp
def _activated_bands_jvp(stride, pad, padding, rows, activation, primals, tangents):
    y = _activated_bands(*primals, stride, pad, padding, rows, activation)
    if primals[1].shape[0] * primals[1].shape[1] == 1:  # no taps: one product is faster
        linear = lambda x, k, b: _conv_whole(x, k, b, stride, pad, padding)  # noqa: E731
    else:
        linear = lambda x, k, b: _conv_bands(x, k, b, stride, pad, padding, rows)  # noqa: E731
    _, dz = jax.jvp(linear, primals, tangents)
    return y, CONV_ACTIVATIONS[activation][1](y, dz)


def _source(n: int, pad: int, padding: str) -> np.ndarray:
    """``source[j]``: the index of ``x`` that position ``j`` of the padded axis holds (-1: a zero)."""
    mode = PADDINGS[padding]
    extra = {"constant_values": -1} if mode == "constant" else {}
    return np.pad(np.arange(n), pad, mode=mode, **extra)


def _column_taps(
    x: jax.Array, kw: int, stride: int, pad: int, padding: str, pad_rows: bool = True
) -> jax.Array:
    """``xc[r, j] = [xp[r, s j + v]]_{v < kw}``, ``(H + 2 pad, W_o, kw C)``, ``xp`` the padded ``x``.

    The rows are padded (``jnp.pad``; not with ``pad_rows=False``, for rows padded by the caller);
    the columns are read through :func:`_column_tap`.
    """
    if pad_rows:
        x = pad2d(x, pad, padding, axes=(0,))
    w = x.shape[1]
    wo = (w + 2 * pad - kw) // stride + 1
    source = _source(w, pad, padding)
    cols = [_column_tap(x, source[v : v + stride * (wo - 1) + 1 : stride], stride) for v in range(kw)]
    return jnp.concatenate(cols, axis=-1) if kw > 1 else cols[0]


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3, 4))
def _unit_stride_taps(
    x: jax.Array, kw: int, pad: int, padding: str, pad_rows: bool = True
) -> jax.Array:
    """:func:`_column_taps` with stride 1, transposed by :func:`_unit_stride_taps_transpose`.

    JAX's own transpose of the taps is a zero-padded copy per slice, summed (the 5 pieces of a
    reflect-padded 3-tap row are 5 full-size padded arrays, which XLA:CPU writes out one by one);
    the hand-written one reads each output column's ``kw`` inputs once. The JVP's tangent is the
    linear transpose of that transpose, so reverse mode (which transposes the tangent map again)
    runs the hand-written code and forward mode stays exact. At 256x256x132, reflect, 3 taps:
    56 -> 19 ms for the backward of the taps.
    """
    return _column_taps(x, kw, 1, pad, padding, pad_rows)


@_unit_stride_taps.defjvp
def _unit_stride_taps_jvp(kw, pad, padding, pad_rows, primals, tangents):
    (x,), (dx,) = primals, tangents
    out = _unit_stride_taps(x, kw, pad, padding, pad_rows)
    transpose = jax.linear_transpose(
        lambda ct: _unit_stride_taps_transpose(ct, x.shape, kw, pad, padding, pad_rows),
        jax.ShapeDtypeStruct(out.shape, out.dtype),
    )
    return out, transpose(dx)[0]


def _unit_stride_taps_transpose(ct, x_shape, kw, pad, padding, pad_rows=True):
    """``dx`` from ``ct = d xc``: the column taps folded back, then (``pad_rows``) the padded rows."""
    h, w, _ = x_shape
    dx_rows = _fold(ct, _source(w, pad, padding), kw, pad, axis=1)
    return _fold(dx_rows, _source(h, pad, padding), 1, pad, axis=0) if pad_rows else dx_rows


def _fold(ct: jax.Array, source: np.ndarray, kw: int, pad: int, axis: int) -> jax.Array:
    """``d[c] = sum_{v < kw, j : source[j + v] = c} ct[j, tap v]`` along ``axis`` (taps: blocks of
    the last axis, ``kw = 1``: no blocks), for ``n = len(source) - 2 pad`` outputs.

    Inside, ``c`` gets exactly ``ct[c + pad - v, tap v]`` for every ``v``: one sum of ``kw``
    shifted slices over the longest such run. The few edge positions (missing taps, padding that
    reflects or repeats into them) are sums of single slices, concatenated around it.
    """
    n = len(source) - 2 * pad
    cin = ct.shape[-1] // kw
    contrib = [[] for _ in range(n)]
    for v in range(kw):
        for j in range(ct.shape[axis]):
            if source[j + v] >= 0:
                contrib[source[j + v]].append((j, v))
    regular = [contrib[c] == [(c + pad - v, v) for v in range(kw)] for c in range(n)]
    lo = hi = c = 0
    while c < n:
        end = c
        while end < n and regular[end]:
            end += 1
        if end - c > hi - lo:
            lo, hi = c, end
        c = end + 1

    def tap(a, v):
        return a if kw == 1 else jax.lax.slice_in_dim(a, v * cin, (v + 1) * cin, axis=a.ndim - 1)

    def edge(c):
        parts = [tap(jax.lax.slice_in_dim(ct, j, j + 1, axis=axis), v) for j, v in contrib[c]]
        if not parts:
            shape = list(ct.shape)
            shape[axis], shape[-1] = 1, cin
            return jnp.zeros(shape, ct.dtype)
        return functools.reduce(jnp.add, parts)

    pieces = [edge(c) for c in range(lo)]
    if hi > lo:
        shifted = [
            tap(jax.lax.slice_in_dim(ct, lo + pad - v, hi + pad - v, axis=axis), v) for v in range(kw)
        ]
        pieces.append(functools.reduce(jnp.add, shifted))
    pieces += [edge(c) for c in range(hi, n)]
    return jnp.concatenate(pieces, axis=axis) if len(pieces) > 1 else pieces[0]
