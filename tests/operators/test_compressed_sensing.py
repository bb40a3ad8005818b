import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.compressed_sensing import GaussianCS, StructuredCS
from tests.operators.adjoint_check import assert_adjoint

SHAPE = (7, 9, 3)
N = math.prod(SHAPE)
M = 40  # one m throughout, so jit caches are shared between tests


def _dct_matrix(size):
    """Orthonormal DCT-II: C[k, t] = sqrt(2/N) c_k cos(pi (2t + 1) k / (2N)), c_0 = 1/sqrt(2)."""
    k, t = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    c = np.sqrt(2 / size) * np.cos(np.pi * (2 * t + 1) * k / (2 * size))
    c[0] /= np.sqrt(2)
    return c


def _dense(op):
    """The matrix of op in numpy, column j = A e_j."""
    return np.asarray(jax.vmap(op)(jnp.eye(math.prod(op.in_shape)).reshape(-1, *op.in_shape))).T


def test_gaussian_matches_numpy_and_adjoint():
    op = GaussianCS(jax.random.key(0), SHAPE, M)
    assert op.out_shape == (M,)
    a = np.asarray(op.matrix, np.float64)
    assert a.shape == (M, N)
    x = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    np.testing.assert_allclose(op(x), a @ x.reshape(-1), atol=1e-4)
    y = np.random.default_rng(1).normal(size=M).astype(np.float32)
    np.testing.assert_allclose(op.adjoint(y), (a.T @ y).reshape(SHAPE), atol=1e-4)
    assert_adjoint(op)


def test_gaussian_entries_are_n01_over_m_and_preserve_energy():
    m = 400
    op = GaussianCS(jax.random.key(1), (20, 20, 3), m)
    a = np.asarray(op.matrix, np.float64)
    assert abs(a.mean()) < 5 * math.sqrt(1 / m / a.size)
    assert abs(a.var() * m - 1.0) < 0.02  # var = 1/m; relative std of the estimate ~ 0.003
    x = np.random.default_rng(2).normal(size=(20, 20, 3))
    ratio = float(np.sum(np.asarray(op(x), np.float64) ** 2) / np.sum(x**2))
    assert abs(ratio - 1.0) < 0.3  # ||Ax||^2 / ||x||^2 ~ chi2_m / m, std 0.07


def test_structured_matches_explicit_dct_matrix_and_has_orthonormal_rows():
    op = StructuredCS(jax.random.key(2), SHAPE, M)
    signs, rows = np.asarray(op.signs), np.asarray(op.rows)
    assert set(np.unique(signs)) == {-1.0, 1.0} and len(np.unique(rows)) == M
    c_h, c_w = _dct_matrix(SHAPE[0]), _dct_matrix(SHAPE[1])
    x = np.random.default_rng(3).normal(size=SHAPE)
    coeffs = np.einsum("ki,ijc,lj->klc", c_h, signs * x, c_w)
    np.testing.assert_allclose(op(x.astype(np.float32)), coeffs.reshape(-1)[rows], atol=1e-5)
    a = _dense(op)
    np.testing.assert_allclose(a @ a.T, np.eye(M), atol=1e-5)
    assert_adjoint(op)


def test_structured_scales_to_256x256x3():
    shape, m = (256, 256, 3), 30000
    op = StructuredCS(jax.random.key(3), shape, m)
    y = jax.random.normal(jax.random.key(4), (m,))
    roundtrip = jax.jit(lambda o, v: o(o.adjoint(v)))
    np.testing.assert_allclose(roundtrip(op, y), y, atol=1e-4)  # A A^T = I
    x = jax.random.normal(jax.random.key(5), shape)
    ratio = float(jnp.sum(op(x) ** 2) / jnp.sum(x**2))
    assert abs(ratio - m / math.prod(shape)) < 0.02  # E ||Ax||^2 = (m/n) ||x||^2


@pytest.mark.parametrize("cls", [GaussianCS, StructuredCS])
def test_jit_does_not_recompile_for_new_key(cls):
    traces = []

    @jax.jit
    def f(op, x):
        traces.append(1)
        return op.adjoint(op(x))

    x = jnp.ones(SHAPE)
    f(cls(jax.random.key(0), SHAPE, M), x)
    op = cls(jax.random.key(1), SHAPE, M)
    np.testing.assert_allclose(f(op, 2 * x), op.adjoint(op(2 * x)), atol=1e-5)
    assert len(traces) == 1


@pytest.mark.parametrize("cls", [GaussianCS, StructuredCS])
def test_vmap_over_keys_and_images(cls):
    keys = jax.random.split(jax.random.key(7), 3)
    ops = jax.vmap(lambda k: cls(k, SHAPE, M))(keys)
    x = jax.random.normal(jax.random.key(8), SHAPE)
    out = jax.vmap(lambda o: o(x))(ops)
    np.testing.assert_allclose(out[2], cls(keys[2], SHAPE, M)(x), atol=1e-5)
    op = cls(keys[0], SHAPE, M)
    xs = jax.random.normal(jax.random.key(9), (2, *SHAPE))
    np.testing.assert_allclose(jax.vmap(op)(xs)[1], op(xs[1]), atol=1e-5)


def test_bad_inputs_name_argument():
    key = jax.random.key(0)
    for cls in (GaussianCS, StructuredCS):
        with pytest.raises(ValueError, match="m"):
            cls(key, SHAPE, 0)
        with pytest.raises(TypeError, match="m"):
            cls(key, SHAPE, 2.5)
        with pytest.raises(TypeError, match="key"):
            cls(0, SHAPE, 10)
        with pytest.raises(ValueError, match="shape"):
            cls(key, (7, -9, 3), 10)
    with pytest.raises(ValueError, match="m: expected a positive int at most n"):
        StructuredCS(key, SHAPE, N + 1)
    with pytest.raises(ValueError, match="shape"):
        StructuredCS(key, (7, 9), 10)
    with pytest.raises(TypeError, match="matrix"):
        GaussianCS(key, SHAPE, 10, matrix=jnp.ones((10, N)))
