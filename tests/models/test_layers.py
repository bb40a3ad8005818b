import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip import conv as conv_module
from jaxdip.models.layers import (
    ChannelNorm,
    channel_norm,
    Conv2d,
    Dense,
    count_params,
    get_activation,
    resize_nearest,
    uniform_init,
    upsample2x,
    upsample_bilinear2x,
    upsample_nearest2x,
)
from tests.compile_events import compiles_of


def bilinear_reference(x, out_h, out_w):
    """Half-pixel bilinear resize (PyTorch align_corners=False), one output sample at a time."""
    h, w, _ = x.shape

    def taps(o, n_in, n_out):
        s = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = min(int(math.floor(s)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        return i0, i1, s - i0

    out = np.zeros((out_h, out_w, x.shape[2]))
    for i in range(out_h):
        r0, r1, a = taps(i, h, out_h)
        for j in range(out_w):
            c0, c1, b = taps(j, w, out_w)
            top = (1 - b) * x[r0, c0] + b * x[r0, c1]
            bot = (1 - b) * x[r1, c0] + b * x[r1, c1]
            out[i, j] = (1 - a) * top + a * bot
    return out


@pytest.mark.parametrize("shape", [(5, 7, 2), (1, 3, 1), (4, 4, 3)])
def test_bilinear_matches_half_pixel_reference(shape):
    x = np.random.default_rng(0).normal(size=shape)
    got = np.asarray(upsample_bilinear2x(jnp.asarray(x, jnp.float32)))
    np.testing.assert_allclose(got, bilinear_reference(x, 2 * shape[0], 2 * shape[1]), atol=1e-5)


def test_bilinear_matches_jax_image_resize():
    # jax.image.resize also uses half-pixel centres; for x2 upsampling its edge renormalisation
    # equals clamping, so it is an independent second reference.
    x = jax.random.normal(jax.random.key(0), (6, 9, 2))
    ref = jax.image.resize(x, (12, 18, 2), "linear")
    np.testing.assert_allclose(upsample_bilinear2x(x), ref, atol=1e-5)


def test_nearest_upsampling_and_resize():
    x = np.arange(12.0).reshape(3, 4, 1)
    up = np.asarray(upsample_nearest2x(jnp.asarray(x)))
    np.testing.assert_array_equal(up, x.repeat(2, 0).repeat(2, 1))
    out = np.asarray(resize_nearest(jnp.asarray(x), (7, 5)))
    rows = np.floor(np.arange(7) * 3 / 7).astype(int)
    cols = np.floor(np.arange(5) * 4 / 5).astype(int)
    np.testing.assert_array_equal(out, x[rows][:, cols])


@pytest.mark.parametrize("size", [(7, 5), (2, 3), (9, 9)])  # up and down on each axis, mixed
def test_resize_nearest_gradients_match_numpy(size):
    # The reverse pass is a hand-written transpose (gathers, no scatter): d x[r] sums the
    # cotangent over every output that copies r, the np.add.at of the forward's indices.
    x = jax.random.normal(jax.random.key(0), (4, 6, 3))
    ct = np.asarray(jax.random.normal(jax.random.key(1), (*size, 3)))
    rows = np.arange(size[0]) * 4 // size[0]
    cols = np.arange(size[1]) * 6 // size[1]
    expected = np.zeros((4, 6, 3))
    np.add.at(expected, (rows[:, None], cols[None, :]), ct)
    _, vjp = jax.vjp(lambda a: resize_nearest(a, size), x)
    np.testing.assert_allclose(vjp(jnp.asarray(ct))[0], expected, rtol=1e-6, atol=1e-6)
    dx = jax.random.normal(jax.random.key(2), x.shape)
    tangent = jax.jvp(lambda a: resize_nearest(a, size), (x,), (dx,))[1]
    np.testing.assert_allclose(tangent, np.asarray(dx)[rows][:, cols], rtol=1e-6, atol=1e-6)
    grad_hlo = jax.jit(jax.grad(lambda a: jnp.sum(resize_nearest(a, size) * ct))).lower(x)
    assert "scatter" not in grad_hlo.as_text()


def test_uniform_init_eager_matches_traced_and_compiles_per_length():
    from jaxdip.models import layers

    key = jax.random.key(5)
    shapes = [(), (7,), (3, 3, 17, 5), (1025,), (2, 1000)]  # 1, 7, 765 < 1024 <= 1025, 2000
    eager = [uniform_init(key, s, 0.25) for s in shapes]
    traced = jax.jit(lambda k: [uniform_init(k, s, 0.25) for s in shapes])(key)
    for s, e, t in zip(shapes, eager, traced):
        assert e.shape == s and e.dtype == jnp.float32
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-7)  # the last bit may differ
        assert np.all(np.abs(np.asarray(e)) <= 0.25)
    big = np.asarray(uniform_init(key, (64, 64), 0.25))  # U(-a, a): mean 0, var a^2 / 3
    assert abs(big.mean()) < 0.01 and abs(big.var() - 0.25**2 / 3) < 0.002
    layers._uniform_draw.clear_cache()
    for s in [(3, 3, 4, 8), (300,), (2, 512)]:  # 288, 300, 1024: one draw length
        uniform_init(key, s, 0.1)
    assert layers._uniform_draw._cache_size() == 1
    if jax.default_backend() == "cpu":  # eagerly on CPU one length serves up to 2**18 numbers
        uniform_init(key, (3, 3, 132, 128), 0.1)
        assert layers._uniform_draw._cache_size() == 1
        uniform_init(key, (2**18 + 1,), 0.1)
        assert layers._uniform_draw._cache_size() == 2
    # traced, the draw stays the next power of two (at least 1024): no 2**18 temporaries
    hlo = jax.jit(lambda k: uniform_init(k, (3, 5), 0.1)).lower(key).as_text()
    assert "1024xf32" in hlo and "262144" not in hlo


def conv_reference(x, k, b, stride, pad_mode):
    p = (k.shape[0] - 1) // 2
    xp = np.pad(x, ((p, p), (p, p), (0, 0)), mode=pad_mode)
    kh, kw = k.shape[:2]
    oh = (xp.shape[0] - kh) // stride + 1
    ow = (xp.shape[1] - kw) // stride + 1
    out = np.zeros((oh, ow, k.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = xp[i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[i, j] = np.einsum("uvc,uvco->o", patch, k) + b
    return out


@pytest.mark.parametrize(
    "stride,padding,np_mode",
    [(1, "reflect", "reflect"), (2, "reflect", "reflect"), (1, "zero", "constant")],
)
def test_conv2d_matches_numpy(stride, padding, np_mode):
    conv = Conv2d(3, 4, 3, stride=stride, padding=padding, rngs=nnx.Rngs(0))
    x = np.random.default_rng(1).normal(size=(7, 6, 3))
    got = np.asarray(conv(jnp.asarray(x, jnp.float32)))
    kernel, bias = np.asarray(conv.kernel[...]), np.asarray(conv.bias[...])
    ref = conv_reference(x, kernel, bias, stride, np_mode)
    assert got.shape == (math.ceil(7 / stride), math.ceil(6 / stride), 4)
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_pytorch_default_init_bounds():
    conv = Conv2d(16, 64, 3, rngs=nnx.Rngs(0))
    bound = 1 / math.sqrt(16 * 9)
    w = np.asarray(conv.kernel[...])
    assert w.shape == (3, 3, 16, 64)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    b = np.asarray(conv.bias[...])
    assert np.abs(b).max() <= bound
    dense = Dense(50, 40, rngs=nnx.Rngs(0))
    assert np.abs(np.asarray(dense.kernel[...])).max() <= 1 / math.sqrt(50)
    assert count_params(conv) == 16 * 9 * 64 + 64
    assert count_params(Conv2d(4, 5, 1, use_bias=False, rngs=nnx.Rngs(0))) == 20


def test_channel_norm_matches_batchnorm_formula():
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(6, 5, 4))
    norm = ChannelNorm(4)
    got = np.asarray(norm(jnp.asarray(x, jnp.float32)))
    ref = (x - x.mean((0, 1))) / np.sqrt(x.var((0, 1)) + 1e-5)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert count_params(norm) == 8


def test_channel_norm_parameters_compile_nothing():
    with compiles_of("") as compiles:  # a channel count no other test uses
        norm = ChannelNorm(37)
    assert compiles == []
    np.testing.assert_array_equal(norm.scale[...], np.ones(37, np.float32))
    np.testing.assert_array_equal(norm.shift[...], np.zeros(37, np.float32))


def test_channel_norm_derivatives_match_autodiff_of_the_formula():
    # The hand-written JVP (and the VJP JAX transposes from it) against JAX differentiating the
    # plain formula; float64 so that a wrong term (e.g. a dropped mean(dx) or x_hat * mean(x_hat dx))
    # shows far above rounding.
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        x, dx, ct = (jnp.asarray(rng.normal(1.0, 2.0, size=(7, 5, 3))) for _ in range(3))
        scale, dscale, shift, dshift = (jnp.asarray(rng.normal(size=3)) for _ in range(4))

        def plain(x, scale, shift):
            mean = x.mean((0, 1))
            return (x - mean) / jnp.sqrt(((x - mean) ** 2).mean((0, 1)) + 1e-5) * scale + shift

        def custom(x, scale, shift):
            return channel_norm(x, scale, shift, 1e-5)

        args, tans = (x, scale, shift), (dx, dscale, dshift)
        y_ref, t_ref = jax.jvp(plain, args, tans)
        y, t = jax.jvp(custom, args, tans)
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(t, t_ref, rtol=1e-10, atol=1e-10)
        g_ref = jax.vjp(plain, *args)[1](ct)
        g = jax.vjp(custom, *args)[1](ct)
        for a, b in zip(g, g_ref):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_activation_and_errors():
    np.testing.assert_allclose(get_activation("leaky_relu")(jnp.array([-1.0, 2.0])), [-0.2, 2.0])
    with pytest.raises(ValueError, match="activation"):
        get_activation("tanhh")
    with pytest.raises(ValueError, match="padding"):
        Conv2d(1, 1, 3, padding="circular", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="out_channels"):
        Conv2d(1, 0, 3, rngs=nnx.Rngs(0))


def test_channel_norm_float32_gradients_with_an_offset_input():
    # The backward reads x, not x_hat, so m(x dx) - mean m(dx) cancels when the mean is many
    # standard deviations: at 10 of them the float32 gradients must still agree with float64 to
    # ~1e-6 relative (the docstring's 1e-7 |mean| / std), as would JAX's own float32 autodiff.
    rng = np.random.default_rng(4)
    x = rng.normal(10.0, 1.0, size=(32, 32, 4))
    ct, scale, shift = rng.normal(size=x.shape), rng.normal(size=4), rng.normal(size=4)

    def grads(dtype):
        def f(x, scale, shift):
            return jnp.sum(channel_norm(x, scale, shift, 1e-5) * jnp.asarray(ct, dtype))

        args = (jnp.asarray(a, dtype) for a in (x, scale, shift))
        return jax.grad(f, argnums=(0, 1, 2))(*args)

    with jax.enable_x64(True):
        ref = grads(jnp.float64)
        got = grads(jnp.float32)
    for g, r in zip(got, ref):
        r = np.asarray(r)
        assert np.abs(np.asarray(g, np.float64) - r).max() <= 1e-5 * np.abs(r).max()


UPSAMPLE_ACTIVATION_CASES = [
    ("bilinear", "relu", 24), ("bilinear", "leaky_relu", 22), ("nearest", "relu", 21)
]


@pytest.mark.parametrize("mode,activation,h", UPSAMPLE_ACTIVATION_CASES)
def test_upsample_activation_in_bands_matches_the_whole_array(monkeypatch, mode, activation, h):
    # Bands of 6 input rows with a halo row each side; h = 22 and 21 leave a last band short
    # (the input is padded with its edge row). The forward is the whole array's, bit for bit;
    # gradients, the JVP and vmap agree with JAX's derivative of f(up2(x)).
    monkeypatch.setattr(conv_module, "MIN_BAND_ROWS", 4)
    monkeypatch.setattr(conv_module, "BAND_BYTES", 6 * 4 * 7 * 3 * 4)  # 6 input rows
    f = {"relu": jax.nn.relu, "leaky_relu": lambda z: jax.nn.leaky_relu(z, 0.2)}[activation]
    up = {"bilinear": upsample_bilinear2x, "nearest": upsample_nearest2x}[mode]
    x, dx, ct = (jax.random.normal(jax.random.key(i), s) for i, s in
                 enumerate([(h, 7, 3), (h, 7, 3), (2 * h, 14, 3)]))
    got_fn = lambda x: upsample2x(x, mode, activation=activation)  # noqa: E731
    ref_fn = lambda x: f(up(x))  # noqa: E731
    assert str(jax.make_jaxpr(got_fn)(x)).count("scan[") == 1  # the banded form is the one tested
    np.testing.assert_array_equal(jax.jit(got_fn)(x), ref_fn(x))
    grads = [jax.jit(jax.grad(lambda x, g=g: jnp.sum(jnp.sin(g(x)) * ct)))(x)
             for g in (got_fn, ref_fn)]
    np.testing.assert_allclose(*grads, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        jax.jvp(got_fn, (x,), (dx,))[1], jax.jvp(ref_fn, (x,), (dx,))[1], rtol=1e-6, atol=1e-6
    )
    xs = jnp.stack([x, dx])
    np.testing.assert_array_equal(jax.jit(jax.vmap(got_fn))(xs), jax.vmap(ref_fn)(xs))


def test_upsample2x_errors():
    x = jnp.ones((4, 4, 1))
    with pytest.raises(ValueError, match="mode: expected one of"):
        upsample2x(x, "area")
    with pytest.raises(ValueError, match=r"activation: expected one of \('relu', 'leaky_relu'\)"):
        upsample2x(x, "nearest", activation="tanh")
