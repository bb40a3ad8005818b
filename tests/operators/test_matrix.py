import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.matrix import Matrix
from tests.operators.adjoint_check import assert_adjoint


def _matrix(shape, complex_=False, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shape)
    return a + 1j * rng.normal(size=shape) if complex_ else a


@pytest.mark.parametrize("complex_", [False, True])
def test_matches_numpy_and_adjoint(complex_):
    a = _matrix((10, 189), complex_)
    op = Matrix(a, in_shape=(7, 9, 3), out_shape=(2, 5))
    dtype = jnp.complex64 if complex_ else jnp.float32
    assert op.in_dtype == op.out_dtype == dtype
    assert (op.in_shape, op.out_shape) == ((7, 9, 3), (2, 5))
    x = _matrix((7, 9, 3), complex_, seed=1)
    out = op(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, (a @ x.reshape(-1)).reshape(2, 5), rtol=1e-4, atol=1e-4)
    y = _matrix((2, 5), complex_, seed=2)
    ref = (a.conj().T @ y.reshape(-1)).reshape(7, 9, 3)
    np.testing.assert_allclose(op.adjoint(y), ref, atol=1e-4)
    assert_adjoint(op)


def test_default_shapes_and_norm():
    a = _matrix((6, 11), seed=3)
    op = Matrix(a)
    assert (op.in_shape, op.out_shape) == ((11,), (6,))
    np.testing.assert_allclose(float(op.norm()), np.linalg.norm(a, 2), rtol=1e-3)


def test_jit_does_not_recompile_for_new_matrix():
    traces = []

    @jax.jit
    def f(op, x):
        traces.append(1)
        return op(x)

    x = jnp.ones((3, 3))
    f(Matrix(_matrix((4, 9), seed=0), in_shape=(3, 3)), x)
    a = _matrix((4, 9), seed=1)
    np.testing.assert_allclose(f(Matrix(a, in_shape=(3, 3)), x), a.sum(axis=1), rtol=1e-5)
    assert len(traces) == 1


def test_vmap_over_matrices_and_inputs():
    mats = jnp.asarray(np.stack([_matrix((4, 5), True, s) for s in range(3)]), jnp.complex64)
    ops = jax.vmap(lambda a: Matrix(a))(mats)
    x = jnp.asarray(_matrix((5,), True, 9), jnp.complex64)
    out = jax.vmap(lambda o: o(x))(ops)
    np.testing.assert_allclose(out[1], np.asarray(mats[1]) @ np.asarray(x), rtol=1e-4, atol=1e-5)
    xs = jnp.stack([x, 2 * x])
    np.testing.assert_allclose(jax.vmap(Matrix(mats[0]))(xs)[1], 2 * Matrix(mats[0])(x), atol=1e-5)


def test_bad_inputs_name_argument():
    with pytest.raises(ValueError, match="matrix"):
        Matrix(jnp.ones(4))
    with pytest.raises(ValueError, match="matrix: expected finite"):
        Matrix(jnp.ones((3, 4)).at[0, 1].set(jnp.nan))
    with pytest.raises(TypeError, match="matrix"):
        Matrix(None)
    with pytest.raises(ValueError, match="in_shape"):
        Matrix(jnp.ones((3, 4)), in_shape=(3, 3))
    with pytest.raises(ValueError, match="out_shape"):
        Matrix(jnp.ones((3, 4)), out_shape=(2, 2))
    with pytest.raises(ValueError, match="in_shape"):
        Matrix(jnp.ones((3, 4)), in_shape=(4, 0))
