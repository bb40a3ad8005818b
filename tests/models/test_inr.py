import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip.models.codes import coordinates
from jaxdip.models.inr import MLP, SIREN
from jaxdip.models.layers import Frozen, count_params
from tests.models.interface_check import check_generator


def mlp_count(n0, h, layers, out):
    return n0 * h + h + (layers - 1) * (h * h + h) + h * out + out


def test_parameter_counts():
    assert count_params(nnx.eval_shape(lambda: MLP(rngs=nnx.Rngs(0)))) == mlp_count(2, 256, 4, 3)
    ff = nnx.eval_shape(lambda: MLP(fourier_features=64, hidden=32, layers=2, rngs=nnx.Rngs(0)))
    assert count_params(ff) == mlp_count(128, 32, 2, 3) + 2 * 64
    assert count_params(nnx.eval_shape(lambda: SIREN(rngs=nnx.Rngs(0)))) == mlp_count(2, 256, 4, 3)


def test_mlp_interface_and_fourier_basis_is_frozen():
    def make(key):
        return MLP(hidden=16, layers=2, fourier_features=8, rngs=nnx.Rngs(key))

    check_generator(make, (8, 6), 3, unit_range=True)
    model = make(jax.random.key(0))
    graphdef, params = nnx.split(model, nnx.Param)
    z = model.make_input(jax.random.key(0), (8, 6))
    grads = jax.grad(lambda p: jnp.sum(nnx.merge(graphdef, p)(z)))(params)
    assert float(jnp.abs(grads["fourier_basis"][...]).max()) == 0.0
    assert float(jnp.abs(grads["head"]["kernel"][...]).max()) > 0.0
    b = np.asarray(nnx.state(model, Frozen)["fourier_basis"][...])
    assert b.shape == (2, 8) and 3.0 < b.std() < 30.0  # N(0, 10^2)


def test_mlp_fourier_features_by_hand():
    model = MLP(hidden=4, layers=1, out_channels=1, fourier_features=3, fourier_scale=2.0,
                output="none", rngs=nnx.Rngs(1))
    x = coordinates((3, 4))
    proj = 2 * jnp.pi * x @ model.fourier_basis[...]
    feats = jnp.concatenate([jnp.cos(proj), jnp.sin(proj)], -1)
    l0 = model.hidden_layers[0]
    hidden = jax.nn.relu(feats @ l0.kernel[...] + l0.bias[...])
    ref = hidden @ model.head.kernel[...] + model.head.bias[...]
    np.testing.assert_allclose(model(x), ref, atol=1e-5)


def test_siren_interface_init_and_forward():
    def make(key):
        return SIREN(hidden=16, layers=3, rngs=nnx.Rngs(key))

    check_generator(make, (8, 8), 3, unit_range=False)
    model = SIREN(hidden=64, layers=2, omega0=30.0, rngs=nnx.Rngs(0))
    w0 = np.asarray(model.sine_layers[0].kernel[...])
    w1 = np.asarray(model.sine_layers[1].kernel[...])
    assert np.abs(w0).max() <= 0.5 and np.abs(w0).max() > 0.4  # U(-1/2, 1/2)
    bound = math.sqrt(6 / 64) / 30
    assert np.abs(w1).max() <= bound and np.abs(w1).max() > 0.9 * bound
    x = coordinates((4, 4))
    h = x
    for layer in model.sine_layers:
        h = jnp.sin(30.0 * (h @ layer.kernel[...] + layer.bias[...]))
    ref = h @ model.head.kernel[...] + model.head.bias[...]
    np.testing.assert_allclose(model(x), ref, atol=1e-5)


def test_input_shape_and_errors():
    model = nnx.eval_shape(lambda: MLP(in_features=3, rngs=nnx.Rngs(0)))
    assert model.input_shape((5, 6)) == (5, 6, 3)
    with pytest.raises(ValueError, match="in_features"):
        model.make_input(jax.random.key(0), (5, 6))
    siren = SIREN(hidden=8, layers=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 2\)"):
        siren(jnp.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="omega0"):
        SIREN(omega0=0.0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="output"):
        MLP(output="relu", rngs=nnx.Rngs(0))
