import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.complex_channels import ChannelsToComplex
from jaxdip.operators.mri import MRI
from tests.operators.adjoint_check import assert_adjoint


def test_forward_and_adjoint_closed_form():
    x = np.random.default_rng(0).normal(size=(5, 7, 2)).astype(np.float32)
    op = ChannelsToComplex((5, 7))
    y = op(jnp.asarray(x))
    assert y.dtype == jnp.complex64 and y.shape == (5, 7)
    np.testing.assert_array_equal(np.asarray(y), x[..., 0] + 1j * x[..., 1])
    np.testing.assert_array_equal(np.asarray(op.adjoint(y)), x)  # A^H A = I
    assert_adjoint(op)
    assert abs(float(op.norm()) - 1.0) < 1e-4


def test_channel_shape_is_accepted():
    assert ChannelsToComplex((5, 7, 2)).in_shape == (5, 7, 2)
    assert ChannelsToComplex((5, 7, 2)).out_shape == (5, 7)


def test_composition_with_mri_is_real_linear_and_adjoint():
    mask = (np.random.default_rng(1).random((7, 9)) < 0.5).astype(np.float32)
    op = MRI(jnp.asarray(mask)) @ ChannelsToComplex((7, 9))
    assert op.in_shape == (7, 9, 2) and op.in_dtype == jnp.float32
    assert_adjoint(op)


@pytest.mark.parametrize("shape", [(5,), (5, 7, 3), (0, 4), "ab"])
def test_bad_shape_raises_naming_shape(shape):
    with pytest.raises(ValueError, match="shape"):
        ChannelsToComplex(shape)


def test_bad_input_shapes():
    op = ChannelsToComplex((4, 4))
    with pytest.raises(ValueError, match=r"x expected shape \(4, 4, 2\)"):
        op(jnp.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"y expected shape \(4, 4\)"):
        op.adjoint(jnp.zeros((4, 5), jnp.complex64))


def test_jit_compiles_once():
    calls = []

    @jax.jit
    def f(op, x):
        calls.append(1)
        return op(x)

    op = ChannelsToComplex((3, 4))
    f(op, jnp.zeros((3, 4, 2)))
    out = f(ChannelsToComplex((3, 4)), jnp.ones((3, 4, 2)))
    np.testing.assert_allclose(np.asarray(out), 1 + 1j)
    assert len(calls) == 1
