import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.inpainting import Inpainting
from tests.operators.adjoint_check import assert_adjoint


def _mask(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) > 0.5).astype(np.float32)


@pytest.mark.parametrize(
    "mask_shape, channels", [((7, 9, 1), 3), ((7, 9, 3), None), ((7, 9, 3), 3)]
)
def test_adjoint_and_numpy_agreement(mask_shape, channels):
    mask = _mask(mask_shape)
    op = Inpainting(mask, channels=channels)
    assert op.in_shape == op.out_shape == (7, 9, 3)
    assert_adjoint(op)
    x = np.random.default_rng(1).normal(size=(7, 9, 3)).astype(np.float32)
    np.testing.assert_allclose(op(x), mask * x, rtol=1e-6)
    np.testing.assert_allclose(op.adjoint(x), mask * x, rtol=1e-6)


def test_weighted_mask_adjoint_and_norm():
    w = np.random.default_rng(2).uniform(0.1, 2.0, size=(7, 9, 1)).astype(np.float32)
    op = Inpainting(w, channels=2)
    assert_adjoint(op)
    assert abs(float(op.norm()) - float(w.max())) < 1e-3 * float(w.max())


def test_default_channels_from_mask():
    assert Inpainting(jnp.ones((5, 6, 1))).in_shape == (5, 6, 1)
    assert Inpainting(jnp.ones((5, 6, 4))).in_shape == (5, 6, 4)


def test_jit_does_not_recompile_for_new_mask():
    traces = []

    @jax.jit
    def f(op, x):
        traces.append(1)
        return op(x)

    x = jnp.ones((7, 9, 3))
    f(Inpainting(_mask((7, 9, 1), 0), channels=3), x)
    out = f(Inpainting(_mask((7, 9, 1), 1), channels=3), 2 * x)
    np.testing.assert_allclose(out, 2 * _mask((7, 9, 1), 1) * np.ones((7, 9, 3)))
    assert len(traces) == 1


def test_vmap_over_operators_and_images():
    masks = jnp.stack([_mask((7, 9, 1), s) for s in range(3)])
    ops = jax.vmap(lambda m: Inpainting(m, channels=3))(masks)
    assert ops.in_shape == (7, 9, 3)
    x = jnp.ones((7, 9, 3))
    out = jax.vmap(lambda o: o(x))(ops)
    np.testing.assert_allclose(out, masks * x)
    op = Inpainting(masks[0], channels=3)
    xs = jax.random.normal(jax.random.key(0), (4, 7, 9, 3))
    np.testing.assert_allclose(jax.vmap(op)(xs), masks[0] * xs)


def test_bad_inputs_name_argument():
    with pytest.raises(ValueError, match="mask"):
        Inpainting(jnp.ones((7, 9)))
    with pytest.raises(ValueError, match="mask: expected finite"):
        Inpainting(jnp.ones((7, 9, 1)).at[0, 0, 0].set(jnp.nan))
    with pytest.raises(TypeError, match="mask"):
        Inpainting(jnp.ones((7, 9, 1), jnp.complex64))
    with pytest.raises(TypeError, match="mask"):
        Inpainting(None)
    with pytest.raises(ValueError, match="channels"):
        Inpainting(jnp.ones((7, 9, 2)), channels=3)
    with pytest.raises(ValueError, match="channels"):
        Inpainting(jnp.ones((7, 9, 1)), channels=0)
    with pytest.raises(ValueError, match=r"x expected shape \(7, 9, 3\)"):
        Inpainting(jnp.ones((7, 9, 1)), channels=3)(jnp.ones((7, 9, 1)))
