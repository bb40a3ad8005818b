import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.integration import Integration
from tests.operators.adjoint_check import assert_adjoint


def _dense(op):
    return np.asarray(jax.vmap(op)(jnp.eye(op.n))).T  # column j = A e_j


def test_matches_numpy_rectangle_rule_and_adjoint():
    op = Integration(9)
    np.testing.assert_allclose(_dense(op), np.tril(np.ones((9, 9))) / 9, atol=1e-7)
    y = np.random.default_rng(0).normal(size=9).astype(np.float32)
    np.testing.assert_allclose(op.adjoint(y), np.triu(np.ones((9, 9))) @ y / 9, atol=1e-6)
    assert_adjoint(op)


def test_singular_values_match_continuous_operator():
    s = np.linalg.svd(_dense(Integration(200)), compute_uv=False)
    k = np.arange(1, 11)
    np.testing.assert_allclose(s[:10], 1 / ((k - 0.5) * np.pi), rtol=0.01)


def test_integrates_polynomial():
    n = 100
    t = (np.arange(n) + 1) / n
    x = 3 * (t - 0.5 / n) ** 2  # midpoint samples of 3 s^2, whose integral is t^3
    np.testing.assert_allclose(Integration(n)(x), t**3, atol=1e-4)


def test_jit_compiles_once_and_vmap():
    traces = []

    @jax.jit
    def f(op, x):
        traces.append(1)
        return op(x)

    op = Integration(11)
    f(op, jnp.ones(11))
    out = f(Integration(11), 2 * jnp.ones(11))
    np.testing.assert_allclose(out, 2 * np.arange(1, 12) / 11, rtol=1e-6)
    assert len(traces) == 1
    xs = jax.random.normal(jax.random.key(0), (3, 11))
    np.testing.assert_allclose(jax.vmap(op.adjoint)(xs)[2], op.adjoint(xs[2]), atol=1e-6)


def test_bad_inputs_name_argument():
    with pytest.raises(ValueError, match="n"):
        Integration(0)
    with pytest.raises(ValueError, match="n"):
        Integration(2.5)
