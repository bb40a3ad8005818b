import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip.models.layers import count_params
from jaxdip.models.skip import Skip
from tests.models.interface_check import check_generator
from tests.models.test_layers import bilinear_reference, conv_reference

SMALL = dict(channels_down=(4, 5), channels_up=(6, 4), channels_skip=(2, 3))


def skip_count(cin, cout, nd, nu, ns, kd=3, ku=3, ks=1):
    """Parameter count of the DIP skip net from its layer list (conv weights/biases, norms)."""
    def conv(a, b, k):
        return a * b * k * k + b

    total, c = 0, cin
    for i in range(len(nd)):
        deeper = nu[i + 1] if i + 1 < len(nd) else nd[i]
        if ns[i]:
            total += conv(c, ns[i], ks) + 2 * ns[i]
        total += conv(c, nd[i], kd) + conv(nd[i], nd[i], kd) + 4 * nd[i]
        total += 2 * (ns[i] + deeper) + conv(ns[i] + deeper, nu[i], ku)
        total += conv(nu[i], nu[i], 1) + 4 * nu[i]
        c = nd[i]
    return total + conv(nu[0], cout, 1)


def test_default_parameter_count_is_dip_reference():
    model = nnx.eval_shape(lambda: Skip(rngs=nnx.Rngs(0)))
    assert count_params(model) == 2_217_831
    assert skip_count(32, 3, (128,) * 5, (128,) * 5, (4,) * 5) == 2_217_831


def test_parameter_count_other_configurations():
    cfg = dict(channels_down=(8, 16), channels_up=(12, 20), channels_skip=(0, 3))
    model = nnx.eval_shape(
        lambda: Skip(in_channels=2, out_channels=1, kernel_down=5, **cfg, rngs=nnx.Rngs(0))
    )
    assert count_params(model) == skip_count(2, 1, (8, 16), (12, 20), (0, 3), kd=5)


def _np_norm(x):
    return (x - x.mean((0, 1))) / np.sqrt(x.var((0, 1)) + 1e-5)


def _np_conv(x, conv):
    k = np.asarray(conv.kernel[...], np.float64)
    return conv_reference(x, k, np.asarray(conv.bias[...], np.float64), conv.stride, "reflect")


def _np_skip(model, z):
    """Independent float64 forward pass of the skip net (DIP layer order, sigmoid head)."""
    def act(x):
        return np.where(x > 0, x, 0.2 * x)


    def scale(i, x):
        s = model.scales[i]
        d = act(_np_norm(_np_conv(x, s.down1)))
        d = act(_np_norm(_np_conv(d, s.down2)))
        if i + 1 < model.num_scales:
            d = scale(i + 1, d)
        d = bilinear_reference(d, 2 * d.shape[0], 2 * d.shape[1])
        sk = act(_np_norm(_np_conv(x, s.skip_conv)))
        cat = _np_norm(np.concatenate([sk, d], axis=-1))
        y = act(_np_norm(_np_conv(cat, s.up)))
        return act(_np_norm(_np_conv(y, s.up1x1)))

    h = _np_conv(scale(0, z), model.head)
    return 1 / (1 + np.exp(-h))


def test_interface_and_forward_match_numpy_reference():
    def make(key):
        return Skip(in_channels=3, **SMALL, rngs=nnx.Rngs(key))

    out = check_generator(make, (16, 8), 3, unit_range=True)
    z = np.asarray(make(jax.random.key(0)).make_input(jax.random.key(1), (16, 8)), np.float64)
    ref = _np_skip(make(jax.random.key(0)), z)
    np.testing.assert_allclose(np.asarray(out), ref, atol=2e-5)


def test_options_nearest_relu_no_skip_no_sigmoid():
    model = Skip(in_channels=2, channels_down=(8, 8), channels_up=(8, 8), channels_skip=(0, 0),
                 upsample="nearest", activation="relu", output="none", padding="zero",
                 rngs=nnx.Rngs(0))
    z = jax.random.normal(jax.random.key(0), (16, 16, 2))
    out = nnx.jit(lambda m, z: m(z))(model, z)
    assert out.shape == (16, 16, 3)
    assert float(out.min()) < 0 or float(out.max()) > 1  # no sigmoid


def test_sizes_not_divisible_are_rejected_by_input_shape_but_run():
    model = Skip(in_channels=3, **SMALL, rngs=nnx.Rngs(0))
    assert model.input_shape((32, 40)) == (32, 40, 3)
    with pytest.raises(ValueError, match=r"out_hw: expected sizes divisible by 2\*\*2 = 4"):
        model.input_shape((10, 16))
    with pytest.raises(TypeError, match="out_hw"):
        model.input_shape(32)
    # The reference crops the upsampled branch; the output keeps the input size.
    z = jax.random.uniform(jax.random.key(0), (10, 7, 3))
    assert nnx.jit(lambda m, z: m(z))(model, z).shape == (10, 7, 3)


def test_construction_errors():
    with pytest.raises(ValueError, match="equal non-zero lengths"):
        Skip(channels_down=(8, 8), channels_up=(8,), channels_skip=(4, 4), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="upsample"):
        Skip(**SMALL, upsample="bicubic", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="activation"):
        Skip(**SMALL, activation="gelu2", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="output"):
        Skip(**SMALL, output="tanh", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"z: expected shape \(H, W, 32\)"):
        Skip(**SMALL, rngs=nnx.Rngs(0))(jnp.zeros((16, 16, 3)))
