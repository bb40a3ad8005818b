"""conv2d against lax.conv_general_dilated: values and gradients (x, kernel, bias), jit and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip import conv as conv_module
from jaxdip.conv import (
    _band_rows,
    activation_band_rows,
    _column_taps,
    _conv_bands,
    _conv_cpu,
    _unit_stride_taps,
    _unit_stride_taps_transpose,
    conv2d,
)


def _reference(x, kernel, bias, stride):
    out = jax.lax.conv_general_dilated(
        x[None], kernel, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )[0]
    return out + bias


def _data(h, w, cin, cout, k, seed=0):
    kx, kk, kb, kc = jax.random.split(jax.random.key(seed), 4)
    x = jax.random.normal(kx, (h, w, cin))
    kernel = jax.random.normal(kk, (k, k, cin, cout)) / k
    bias = jax.random.normal(kb, (cout,))
    cot = jax.random.normal(kc, (h - k + 1, w - k + 1, cout))  # cropped to the strided output
    return x, kernel, bias, cot


CASES = [(k, s) for k in (1, 3, 4) for s in (1, 2)]

# The checks below run jitted: eagerly, every primitive would compile on its own (4x the time).
_jvp = jax.jit(jax.jvp, static_argnums=0)


@pytest.mark.parametrize("k,stride", CASES)
def test_forward_and_gradients_match_lax(k, stride):
    x, kernel, bias, cot = _data(11, 9, 3, 5, k)
    want = _reference(x, kernel, bias, stride)
    cot = cot[: want.shape[0], : want.shape[1]]
    got = jax.jit(conv2d, static_argnums=3)(x, kernel, bias, stride)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)

    def loss(f):
        return lambda x, kernel, bias: jnp.sum(jnp.sin(f(x, kernel, bias, stride)) * cot)

    g_got = jax.jit(jax.grad(loss(conv2d), (0, 1, 2)))(x, kernel, bias)
    g_want = jax.jit(jax.grad(loss(_reference), (0, 1, 2)))(x, kernel, bias)
    for name, a, b in zip(("x", "kernel", "bias"), g_got, g_want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("k,stride", [(5, 3)])
def test_matmul_path_matches_lax_on_any_backend(k, stride):
    # The CPU formulation is exercised directly so this test is meaningful on GPU runners too.
    x, kernel, bias, _ = _data(13, 10, 4, 6, k, seed=1)
    want = _reference(x, kernel, bias, stride)
    got = jax.jit(_conv_cpu, static_argnums=3)(x, kernel, bias, stride)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    f = lambda x, kernel, b: jnp.sum(_conv_cpu(x, kernel, b, stride) ** 2)  # noqa: E731
    r = lambda x, kernel, b: jnp.sum(_reference(x, kernel, b, stride) ** 2)  # noqa: E731
    args = (x, kernel, bias)
    grads = jax.jit(jax.grad(f, (0, 1, 2)))(*args), jax.jit(jax.grad(r, (0, 1, 2)))(*args)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_jit_vmap_and_second_order():
    x, kernel, bias, _ = _data(10, 10, 2, 3, 3, seed=2)
    xs = jnp.stack([x, 2 * x + 1])
    got = jax.jit(jax.vmap(lambda x: conv2d(x, kernel, bias, 2)))(xs)
    want = jnp.stack([_reference(xi, kernel, bias, 2) for xi in xs])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # vmap over kernels (ensembles) and gradient of a vmapped loss
    kernels = jnp.stack([kernel, -0.5 * kernel])
    loss = lambda ks: jnp.sum(jax.vmap(lambda k: conv2d(x, k, bias) ** 2)(ks))  # noqa: E731
    ref = lambda ks: sum(jnp.sum(_reference(x, k, bias, 1) ** 2) for k in ks)  # noqa: E731
    np.testing.assert_allclose(
        jax.jit(jax.grad(loss))(kernels), jax.jit(jax.grad(ref))(kernels), rtol=1e-4, atol=1e-3
    )
    # Hessian-vector product (forward-over-reverse) used by spectral tools
    v = jnp.ones_like(x)
    hvp = lambda f: jax.jvp(jax.grad(lambda x: jnp.sum(f(x, kernel, bias, 1) ** 3)), (x,), (v,))[1]  # noqa: E731
    np.testing.assert_allclose(
        jax.jit(hvp, static_argnums=0)(conv2d), jax.jit(hvp, static_argnums=0)(_reference),
        rtol=1e-4, atol=1e-3,
    )


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (1, 2)])
def test_forward_mode_matches_lax(k, stride):
    # The CPU formulation is plain jnp, so jax.jvp (forward mode) goes through it.
    x, kernel, bias, _ = _data(12, 10, 6, 4, k, seed=3)
    dx, dk, _, _ = _data(12, 10, 6, 4, k, seed=4)
    got = _jvp(lambda x, k_: _conv_cpu(x, k_, None, stride), (x, kernel), (dx, dk))
    want = _jvp(lambda x, k_: _reference(x, k_, 0.0, stride), (x, kernel), (dx, dk))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


PAD_CASES = [
    (mode, k, stride, pad)
    for mode in ("reflect", "zero", "replicate")
    for k, stride, pad in ((3, 1, 1), (3, 2, 1), (5, 1, 2), (4, 3, 2), (3, 1, 4))
]


@pytest.mark.parametrize("mode,k,stride,pad", PAD_CASES)
def test_padding_folded_into_the_taps_matches_pad_then_lax(mode, k, stride, pad):
    # pad=4 on a 5x4 image reflects more than once (numpy.pad semantics).
    x, kernel, bias, _ = _data(5, 4, 3, 2, k, seed=5)
    np_mode = {"reflect": "reflect", "zero": "constant", "replicate": "edge"}[mode]
    xp = jnp.asarray(np.pad(np.asarray(x), ((pad, pad), (pad, pad), (0, 0)), mode=np_mode))
    want = _reference(xp, kernel, bias, stride)
    got = jax.jit(lambda x, k_, b: conv2d(x, k_, b, stride, pad=pad, padding=mode))(x, kernel, bias)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    cot = jax.random.normal(jax.random.key(6), want.shape)
    padded = lambda x: jnp.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode=np_mode)  # noqa: E731
    g_got = jax.jit(jax.grad(
        lambda x, k_: jnp.sum(conv2d(x, k_, None, stride, pad=pad, padding=mode) * cot), (0, 1)))
    g_want = jax.jit(jax.grad(
        lambda x, k_: jnp.sum(_reference(padded(x), k_, 0.0, stride) * cot), (0, 1)))
    for name, a, b in zip(("x", "kernel"), g_got(x, kernel), g_want(x, kernel)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)
    dx = jax.random.normal(jax.random.key(7), x.shape)
    t_got = _jvp(lambda x: _conv_cpu(x, kernel, None, stride, pad, mode), (x,), (dx,))
    t_want = _jvp(lambda x: _reference(padded(x), kernel, 0.0, stride), (x,), (dx,))
    np.testing.assert_allclose(t_got[1], t_want[1], rtol=1e-4, atol=1e-4)


# (H, W, kw, pad): a regular interior run; pad > size (reflected more than once); no regular run.
TAP_CASES = [(9, 11, 3, 1), (6, 5, 3, 2), (5, 4, 4, 4), (2, 3, 3, 1), (1, 1, 1, 0), (4, 6, 2, 0)]


@pytest.mark.parametrize("mode", ["reflect", "zero", "replicate"])
@pytest.mark.parametrize("h,w,kw,pad", TAP_CASES)
def test_hand_written_taps_transpose_matches_autodiff(mode, h, w, kw, pad):
    if mode == "reflect" and pad > 0 and min(h, w) == 1:
        pytest.skip("reflect padding needs >= 2 samples")
    x = jax.random.normal(jax.random.key(8), (h, w, 3))
    plain = lambda x: _column_taps(x, kw, 1, pad, mode)  # noqa: E731
    custom = lambda x: _unit_stride_taps(x, kw, pad, mode)  # noqa: E731
    pullback = jax.jit(lambda f, x, ct: jax.vjp(f, x)[1](ct)[0], static_argnums=0)
    taps = jax.jit(plain)(x)
    ct = jax.random.normal(jax.random.key(9), taps.shape)
    want = pullback(plain, x, ct)
    transpose = jax.jit(_unit_stride_taps_transpose, static_argnums=(1, 2, 3, 4))
    got = transpose(ct, x.shape, kw, pad, mode)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # and through the custom JVP: reverse mode runs the hand-written fold, forward mode is exact
    np.testing.assert_array_equal(jax.jit(custom)(x), taps)
    np.testing.assert_allclose(pullback(custom, x, ct), want, rtol=1e-5, atol=1e-5)
    dx = jax.random.normal(jax.random.key(10), x.shape)
    t_custom = _jvp(custom, (x,), (dx,))[1]
    t_plain = _jvp(plain, (x,), (dx,))[1]
    np.testing.assert_allclose(t_custom, t_plain, rtol=1e-6, atol=1e-6)


def _assert_matches_in_both_modes_and_under_vmap(got_fn, ref_fn, x, kernel, bias, seed):
    """``got_fn(x, kernel, bias)`` against ``ref_fn``: forward, reverse-mode gradients of x, kernel
    and (when not None) bias, the JVP in x and kernel, and under ``vmap`` over x."""
    want = ref_fn(x, kernel, bias)
    np.testing.assert_allclose(jax.jit(got_fn)(x, kernel, bias), want, rtol=1e-5, atol=1e-5)
    cot = jax.random.normal(jax.random.key(seed), want.shape)
    argnums = (0, 1) if bias is None else (0, 1, 2)
    grads = [
        jax.jit(jax.grad(lambda *a, g=g: jnp.sum(jnp.sin(g(*a)) * cot), argnums))(x, kernel, bias)
        for g in (got_fn, ref_fn)
    ]
    for name, a, b in zip(("x", "kernel", "bias"), *grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)
    k, _, _, cout = kernel.shape
    dx, dk, _, _ = _data(*x.shape, cout, k, seed=seed + 1)
    t_got = _jvp(lambda x, k_: got_fn(x, k_, bias), (x, kernel), (dx, dk))[1]
    t_want = _jvp(lambda x, k_: ref_fn(x, k_, bias), (x, kernel), (dx, dk))[1]
    np.testing.assert_allclose(t_got, t_want, rtol=1e-4, atol=1e-4)
    xs = jnp.stack([x, dx])
    np.testing.assert_allclose(
        jax.jit(jax.vmap(lambda x: got_fn(x, kernel, bias)))(xs),
        jax.vmap(lambda x: ref_fn(x, kernel, bias))(xs), rtol=1e-5, atol=1e-5,
    )


# (padding, k, stride, rows per band): halo of kh - s rows; kh < s (no halo); last band short.
BAND_CASES = [
    ("zero", 3, 1, 4), ("reflect", 3, 1, 5), ("replicate", 3, 1, 3), ("reflect", 3, 2, 3),
    ("zero", 4, 2, 3), ("reflect", 5, 1, 4), ("zero", 2, 3, 2),
]


@pytest.mark.parametrize("mode,k,stride,rows", BAND_CASES)
def test_row_bands_match_lax_in_both_modes_and_under_vmap(mode, k, stride, rows):
    x, kernel, bias, _ = _data(17, 9, 3, 4, k, seed=11)
    pad = k // 2
    np_mode = {"reflect": "reflect", "zero": "constant", "replicate": "edge"}[mode]
    padded = lambda x: jnp.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode=np_mode)  # noqa: E731
    banded = lambda x, k_, b: _conv_bands(x, k_, b, stride, pad, mode, rows)  # noqa: E731
    ref = lambda x, k_, b: _reference(padded(x), k_, b, stride)  # noqa: E731
    want = ref(x, kernel, bias)
    assert -(-want.shape[0] // rows) > 1  # more than one band
    _assert_matches_in_both_modes_and_under_vmap(banded, ref, x, kernel, bias, seed=12)


def test_activation_band_rows_two_bands_or_more_and_none_for_small_maps(monkeypatch):
    # 512 x 512 x 64 float32 output rows (128 KB): the 32 MiB bound allows 256 rows -> 2 bands
    assert activation_band_rows(512, 512 * 64 * 4) == 256
    assert activation_band_rows(256, 256 * 64 * 4) == 128  # two bands even when one would fit
    assert activation_band_rows(1024, 1024 * 64 * 4) == 128  # 8 bands of 128 rows (32 MiB)
    assert activation_band_rows(250, 4 * 2**20) == 32  # 8 bands, balanced: 8 x 32 >= 250
    assert activation_band_rows(63, 100) is None  # fewer than 2 * MIN_BAND_ROWS rows
    monkeypatch.setattr(conv_module, "BAND_BYTES", None)
    assert activation_band_rows(512, 512 * 64 * 4) is None


def test_band_rows_balance_the_bands_and_skip_small_layers():
    # 256 x 256 x 160, 3x3: taps of 491 KB per output row, 32 MiB bands -> 68 rows -> 4 bands of 64
    assert _band_rows(256, 256, 3, 3, 160, 1, 4) == 64
    rows = _band_rows(250, 256, 3, 3, 160, 1, 4)
    bands = -(-250 // rows)
    assert bands == 4 and bands * rows - 250 < bands
    assert _band_rows(256, 256, 1, 1, 160, 1, 4) is None  # 1x1: no taps
    assert _band_rows(64, 64, 3, 3, 64, 1, 4) is None  # one band would hold every row
    assert _band_rows(255, 256, 3, 3, 160, 2, 4) == 32  # stride 2: twice the bytes per row


def test_bands_save_the_input_rows_not_the_column_taps(monkeypatch):
    # What reverse mode keeps for the backward pass: with bands, nothing larger than the input
    # (plus halo rows); without, the 3x larger column taps.
    x, kernel, bias, _ = _data(40, 24, 8, 8, 3, seed=14)

    def largest_residual():
        def loss(x, k_):
            return jnp.sum(conv2d(x, k_, bias, pad=1, padding="reflect") ** 2)

        _, pullback = jax.vjp(loss, x, kernel)  # the pullback holds the residuals as its leaves
        return max(leaf.size for leaf in jax.tree.leaves(pullback))

    monkeypatch.setattr(conv_module, "MIN_BAND_ROWS", 4)
    monkeypatch.setattr(conv_module, "BAND_BYTES", 8 * 24 * 3 * 8 * 4)  # 8 rows per band
    assert largest_residual() <= 1.25 * x.size
    monkeypatch.setattr(conv_module, "BAND_BYTES", None)
    assert largest_residual() >= 3 * x.size


ACTIVATION_CASES = [(a, bands, bias, 3) for a in ("relu", "leaky_relu") for bands in (True, False)
                    for bias in (True, False)]
ACTIVATION_CASES += [("relu", True, True, 1), ("leaky_relu", True, False, 1)]  # 1x1 kernels


@pytest.mark.parametrize("activation,bands,with_bias,k", ACTIVATION_CASES)
def test_activation_matches_lax_then_the_activation(monkeypatch, activation, bands, with_bias, k):
    # Inside the bands the activation has its own JVP, read from the output; it must agree with
    # JAX's derivative of f(lax.conv) in both modes, for x, kernel and bias, and under vmap.
    # A 1x1 kernel has no taps: its bands (two here) exist only for the activation.
    x, kernel, bias, _ = _data(20, 11, 3, 4, k, seed=21)
    bias = bias if with_bias else None
    pad = (k - 1) // 2
    monkeypatch.setattr(conv_module, "MIN_BAND_ROWS", 4)
    monkeypatch.setattr(conv_module, "BAND_BYTES", 5 * 11 * 3 * 3 * 4 if bands else None)
    f = {"relu": jax.nn.relu, "leaky_relu": lambda z: jax.nn.leaky_relu(z, 0.2)}[activation]
    got_fn = lambda x, k_, b: conv2d(  # noqa: E731
        x, k_, b, pad=pad, padding="reflect", activation=activation
    )
    padded = lambda x: jnp.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")  # noqa: E731
    ref_fn = lambda x, k_, b: f(_reference(padded(x), k_, 0.0 if b is None else b, 1))  # noqa: E731
    loops = str(jax.make_jaxpr(got_fn)(x, kernel, bias)).count("scan[")
    assert loops == (1 if bands else 0)  # the banded form is the one tested
    want = ref_fn(x, kernel, bias)
    assert float(jnp.mean(want > 0)) < 0.8  # both branches of the activation are exercised
    _assert_matches_in_both_modes_and_under_vmap(got_fn, ref_fn, x, kernel, bias, seed=22)


def test_activation_inside_the_bands_frees_the_pre_activation(monkeypatch):
    # conv + ReLU + norm, twice: with the ReLU outside the convolution XLA keeps the
    # pre-activation (which its fusions read in place of the ReLU's output) for the backward
    # pass; inside the bands it never exists whole: one output-sized array less. And the
    # backward pass does not recompute the bands' products to get it (as many products).
    from jaxdip.models.layers import channel_norm

    monkeypatch.setattr(conv_module, "MIN_BAND_ROWS", 4)
    monkeypatch.setattr(conv_module, "BAND_BYTES", 16 * 64 * 3 * 16 * 4)  # 16 rows per band
    x, kernel, _, _ = _data(64, 64, 16, 16, 3, seed=24)

    def loss(k_, x, inside):
        for _ in range(2):
            if inside:
                y = conv2d(x, k_, pad=1, activation="relu")
            else:
                y = jax.nn.relu(conv2d(x, k_, pad=1))
            x = channel_norm(y, jnp.ones(16), jnp.zeros(16), 1e-5)
        return jnp.sum(x * x[::-1])

    grad = jax.jit(jax.grad(loss, (0, 1)), static_argnums=2)
    inside, outside = (grad.lower(kernel, x, flag).compile() for flag in (True, False))
    temp = [c.memory_analysis().temp_size_in_bytes for c in (inside, outside)]
    assert temp[0] <= temp[1] - 0.9 * x.size * 4
    assert inside.as_text().count(" dot(") == outside.as_text().count(" dot(")


def test_no_bias_and_output_shape():
    x = jnp.ones((7, 8, 3))
    out = conv2d(x, jnp.ones((3, 3, 3, 2)), stride=2)
    assert out.shape == (3, 3, 2)
    np.testing.assert_allclose(out, 27.0)


@pytest.mark.parametrize(
    "x_shape,k_shape,stride,bias_shape,match",
    [
        ((8, 8), (3, 3, 3, 2), 1, None, "x expected shape"),
        ((8, 8, 3), (3, 3, 4, 2), 1, None, "kernel expected shape"),
        ((2, 8, 3), (3, 3, 3, 2), 1, None, "exceeds the padded x spatial size"),
        ((8, 8, 3), (3, 3, 3, 2), 0, None, "stride expected a positive int"),
        ((8, 8, 3), (3, 3, 3, 2), 1, (3,), "bias expected shape"),
    ],
)
def test_errors_name_the_argument(x_shape, k_shape, stride, bias_shape, match):
    bias = None if bias_shape is None else jnp.zeros(bias_shape)
    with pytest.raises(ValueError, match=match):
        conv2d(jnp.zeros(x_shape), jnp.zeros(k_shape), bias, stride)


def test_padding_errors_name_the_argument():
    x, k = jnp.zeros((4, 4, 1)), jnp.zeros((3, 3, 1, 1))
    with pytest.raises(ValueError, match=r"activation expected one of \('relu', 'leaky_relu'\)"):
        conv2d(x, k, activation="tanh")
    with pytest.raises(ValueError, match="pad expected an int >= 0, got -1"):
        conv2d(x, k, pad=-1)
    with pytest.raises(ValueError, match="padding expected one of .*'circular'"):
        conv2d(x, k, pad=1, padding="circular")
    with pytest.raises(ValueError, match=r"padded x spatial size \(4, 4\)"):
        conv2d(jnp.zeros((2, 2, 1)), jnp.zeros((5, 5, 1, 1)), pad=1)
