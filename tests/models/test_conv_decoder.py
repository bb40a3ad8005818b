import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip.models.conv_decoder import ConvDecoder
from jaxdip.models.layers import count_params
from tests.models.interface_check import check_generator


def test_parameter_count_formula():
    for c, n_layers, out in [(160, 8, 2), (64, 7, 30)]:
        model = nnx.eval_shape(
            lambda: ConvDecoder(
                out_hw=(640, 368), channels=c, num_layers=n_layers, out_channels=out,
                rngs=nnx.Rngs(0),
            )
        )
        expected = n_layers * (9 * c * c + c) + 2 * n_layers * c + c * out + out
        assert count_params(model) == expected


def test_geometric_sizes():
    model = nnx.eval_shape(lambda: ConvDecoder(out_hw=(640, 368), rngs=nnx.Rngs(0)))
    rx, ry = (640 / 8) ** (1 / 7), (368 / 4) ** (1 / 7)
    inner = [(math.ceil(rx**n * 8), math.ceil(ry**n * 4)) for n in range(1, 7)]
    assert model.hidden_sizes == (*inner, (640, 368))
    assert model.input_shape((640, 368)) == (8, 4, 160)


def test_interface_small():
    def make(key):
        return ConvDecoder(out_hw=(24, 20), channels=8, num_layers=3, rngs=nnx.Rngs(key))

    out = check_generator(make, (24, 20), 2, unit_range=False)
    assert float(out.min()) < 0.0  # no output non-linearity by default


def test_make_input_and_errors():
    model = ConvDecoder(out_hw=(16, 8), in_hw=(4, 2), channels=4, num_layers=2, output="sigmoid",
                        rngs=nnx.Rngs(0))
    z = model.make_input(jax.random.key(0), (16, 8))
    assert z.shape == (4, 2, 4) and float(z.max()) > 0.5 and float(z.min()) >= 0.0  # U(0, 1)
    with pytest.raises(ValueError, match=r"built for output size \(16, 8\), got \(16, 16\)"):
        model.input_shape((16, 16))
    with pytest.raises(ValueError, match=r"z: expected shape \(4, 2, 4\)"):
        model(jnp.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="num_layers"):
        ConvDecoder(out_hw=(16, 8), num_layers=1, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="out_hw"):
        ConvDecoder(out_hw=16, rngs=nnx.Rngs(0))


def test_two_layer_forward_by_hand():
    # L = 2: resize to the output size, conv-relu-norm, conv-relu-norm, 1x1 head (zero padding).
    model = ConvDecoder(out_hw=(6, 4), in_hw=(3, 2), channels=2, num_layers=2, out_channels=1,
                        rngs=nnx.Rngs(2))
    z = model.make_input(jax.random.key(1), (6, 4))
    up = jnp.repeat(jnp.repeat(z, 2, 0), 2, 1)
    np.testing.assert_array_equal(np.asarray(up)[::2, ::2], np.asarray(z))

    def block(b, x):
        y = jax.lax.conv_general_dilated(x[None], b.conv.kernel[...], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))[0]
        y = jax.nn.relu(y + b.conv.bias[...])
        return (y - y.mean((0, 1))) / jnp.sqrt(y.var((0, 1)) + 1e-5)

    x = block(model.blocks[1], block(model.blocks[0], up))
    ref = x @ model.head.kernel[...][0, 0] + model.head.bias[...]
    np.testing.assert_allclose(model(z), ref, atol=1e-5)
