import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip import conv as conv_module
from jaxdip.models.deep_decoder import DeepDecoder
from jaxdip.models.layers import count_params, upsample_bilinear2x
from tests.models.interface_check import check_generator


@pytest.mark.parametrize("k,expected", [(64, 25_536), (128, 100_224)])
def test_parameter_count_reference(k, expected):
    model = nnx.eval_shape(lambda: DeepDecoder(channels=k, rngs=nnx.Rngs(0)))
    assert count_params(model) == expected == 6 * k * k + 2 * 6 * k + k * 3


def test_parameter_count_formula_other_sizes():
    model = nnx.eval_shape(
        lambda: DeepDecoder(channels=10, num_blocks=3, out_channels=1, rngs=nnx.Rngs(0))
    )
    assert count_params(model) == 3 * 100 + 2 * 3 * 10 + 10


def test_interface_small():
    def make(key):
        return DeepDecoder(channels=8, num_blocks=4, rngs=nnx.Rngs(key))

    check_generator(make, (32, 24), 3, unit_range=True)


def test_forward_matches_block_formula():
    model = DeepDecoder(channels=4, num_blocks=2, out_channels=1, rngs=nnx.Rngs(1))
    z = model.make_input(jax.random.key(0), (8, 8))
    assert z.shape == (4, 4, 4) and float(z.max()) <= 0.1
    w0 = model.blocks[0].conv.kernel[...][0, 0]
    w1 = model.blocks[1].conv.kernel[...][0, 0]
    head = model.head.kernel[...][0, 0]
    def norm(x):
        return (x - x.mean((0, 1))) / jnp.sqrt(x.var((0, 1)) + 1e-5)

    x = norm(jax.nn.relu(upsample_bilinear2x(z @ w0)))
    x = norm(jax.nn.relu(x @ w1))
    ref = jax.nn.sigmoid(x @ head)
    np.testing.assert_allclose(model(z), ref, atol=1e-5)
    assert model.blocks[0].conv.bias is None and model.head.bias is None


def test_input_shape_errors():
    model = nnx.eval_shape(lambda: DeepDecoder(rngs=nnx.Rngs(0)))
    assert model.input_shape((512, 384)) == (16, 12, 64)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*\(num_blocks - 1\) = 32"):
        model.input_shape((500, 512))
    with pytest.raises(ValueError, match="upsample"):
        DeepDecoder(upsample="area", rngs=nnx.Rngs(0))


def test_relu_in_bands_frees_the_pre_activations(monkeypatch):
    # The ReLU inside the banded upsamplings and last 1x1 convolution (CPU): XLA no longer keeps
    # the pre-activations of the finest scales beside the ReLU outputs for the backward pass, at
    # least 1.8 arrays of the output's size less (2.25 measured); the gradients are the same.
    monkeypatch.setattr(conv_module, "MIN_BAND_ROWS", 8)
    model = DeepDecoder(channels=16, num_blocks=4, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model, nnx.Param)
    z = model.make_input(jax.random.key(1), (64, 64))
    target = jax.random.uniform(jax.random.key(2), (64, 64, 3))

    def loss(p):
        return jnp.mean((nnx.merge(graphdef, p)(z) - target) ** 2)

    temps, grads = [], []
    for band_bytes in (conv_module.BAND_BYTES, None):  # None: no bands
        monkeypatch.setattr(conv_module, "BAND_BYTES", band_bytes)
        step = jax.jit(jax.grad(loss))
        temps.append(step.lower(params).compile().memory_analysis().temp_size_in_bytes)
        grads.append(step(params))
    assert temps[0] <= temps[1] - 1.8 * 64 * 64 * 16 * 4
    for a, b in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
