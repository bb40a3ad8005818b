import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.flatten_util import ravel_pytree

from jaxdip.operators.base import LinearOperator, operator_dataclass
from jaxdip.operators.identity import Identity
from jaxdip.spectral import (
    band_energy,
    coefficients,
    generator_fn,
    jvp,
    measurement_fn,
    ntk_gram,
    predicted_variance_curve,
    randomized_svd,
    top_k_svd,
    vjp,
)

HW = (8, 8)


class _TinyNet(nnx.Module):
    """conv 3x3 (2 -> 4) -> tanh -> conv 3x3 (4 -> 1): 113 parameters, output 8 x 8 x 1."""

    def __init__(self, rngs):
        self.c1 = nnx.Conv(2, 4, (3, 3), rngs=rngs)
        self.c2 = nnx.Conv(4, 1, (3, 3), rngs=rngs)

    def __call__(self, z):
        return self.c2(jnp.tanh(self.c1(z)))


@operator_dataclass
class _ComplexMask(LinearOperator):
    """``x -> w * x`` with complex weights: a real-to-complex measurement."""

    w: jax.Array

    @property
    def in_shape(self):
        return tuple(self.w.shape)

    @property
    def out_shape(self):
        return tuple(self.w.shape)

    @property
    def out_dtype(self):
        return jnp.dtype(jnp.complex64)

    def apply(self, x):
        return self.w * x


def _tiny(seed=0):
    graphdef, params = nnx.split(_TinyNet(nnx.Rngs(seed)), nnx.Param)
    z = jax.random.normal(jax.random.key(100), HW + (2,))
    return graphdef, params, z


def _dense(f, params):
    """Dense float64 Jacobian (m, n) from jax.jacfwd on the flat parameters (jitted, as are the
    heavier calls below: eager, every primitive compiles on its own)."""
    flat, unravel = ravel_pytree(params)
    jac = jax.jit(jax.jacfwd(lambda w: jnp.ravel(f(unravel(w)))))(flat)
    return np.asarray(jac, np.float64), flat, unravel


@pytest.fixture(scope="module")
def tiny():
    graphdef, params, z = _tiny()
    f = generator_fn(graphdef, z)
    jac, flat, unravel = _dense(f, params)
    return f, params, jac, flat, unravel


def test_jvp_vjp_match_dense_and_are_adjoint(tiny):
    f, params, jac, flat, unravel = tiny
    v_flat = jax.random.normal(jax.random.key(1), flat.shape)
    u = jax.random.normal(jax.random.key(2), HW + (1,))
    jv = jvp(f, params, unravel(v_flat))
    jtu = ravel_pytree(vjp(f, params, u))[0]
    assert jv.shape == HW + (1,) and jv.dtype == jnp.float32
    np.testing.assert_allclose(np.ravel(jv), jac @ np.asarray(v_flat, np.float64), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(jtu, jac.T @ np.ravel(u).astype(np.float64), rtol=1e-4, atol=1e-5)
    lhs = np.vdot(np.ravel(jv).astype(np.float64), np.ravel(u))
    rhs = np.vdot(np.asarray(v_flat, np.float64), np.asarray(jtu, np.float64))
    assert abs(lhs - rhs) <= 1e-5 * abs(lhs)


def test_top_k_svd_matches_dense_svd(tiny):
    f, params, jac, flat, unravel = tiny
    s_ref = np.linalg.svd(jac, compute_uv=False)
    svd = jax.jit(lambda p: top_k_svd(jax.random.key(3), f, p, 10, num_matvecs=40))(params)
    s = np.asarray(svd.singular_values, np.float64)
    np.testing.assert_array_less(np.abs(s - s_ref[:10]) / s_ref[:10], 1e-4)
    left = np.asarray(svd.left_vectors, np.float64).reshape(10, -1)
    right = np.asarray(jax.vmap(lambda t: ravel_pytree(t)[0])(svd.right_vectors), np.float64)
    assert svd.left_vectors.shape == (10,) + HW + (1,)
    np.testing.assert_allclose(left @ left.T, np.eye(10), atol=1e-5)
    np.testing.assert_allclose(right @ right.T, np.eye(10), atol=1e-5)
    # triplets: J v_i = s_i u_i and J^T u_i = s_i v_i, and the reported residuals are small
    np.testing.assert_allclose(right @ jac.T, s[:, None] * left, atol=1e-4 * s_ref[0])
    np.testing.assert_allclose(left @ jac, s[:, None] * right, atol=1e-4 * s_ref[0])
    assert float(jnp.max(svd.residuals)) < 1e-4 * s_ref[0]


def test_randomized_svd_matches_dense_leading_values(tiny):
    f, params, jac, _, _ = tiny
    s_ref = np.linalg.svd(jac, compute_uv=False)
    svd = jax.jit(
        lambda p: randomized_svd(jax.random.key(4), f, p, 5, oversample=10, power_iters=3)
    )(params)
    s = np.asarray(svd.singular_values, np.float64)
    np.testing.assert_allclose(s[:3], s_ref[:3], rtol=1e-4)
    np.testing.assert_allclose(s, s_ref[:5], rtol=1e-2)
    left = np.asarray(svd.left_vectors, np.float64).reshape(5, -1)
    np.testing.assert_allclose(left @ left.T, np.eye(5), atol=1e-5)
    # lax.map in batches gives the same result
    svd_b = jax.jit(
        lambda p: randomized_svd(
            jax.random.key(4), f, p, 5, oversample=10, power_iters=3, batch_size=8
        )
    )(params)
    np.testing.assert_allclose(svd_b.singular_values, svd.singular_values, rtol=1e-5)
    right = np.asarray(jax.vmap(lambda t: ravel_pytree(t)[0])(svd.right_vectors), np.float64)
    ref_res = np.linalg.norm(right @ jac.T - s[:, None] * left, axis=1)
    np.testing.assert_allclose(svd.residuals, ref_res, rtol=1e-2, atol=1e-5 * s_ref[0])


def test_ntk_gram_equals_dense(tiny):
    f, params, jac, _, _ = tiny
    gram = ntk_gram(f, params)
    np.testing.assert_allclose(gram, jac @ jac.T, rtol=1e-4, atol=1e-4 * np.abs(jac @ jac.T).max())


def test_vmap_over_an_ensemble_of_params():
    graphdef, p0, z = _tiny(0)
    _, p1, _ = _tiny(1)
    f = generator_fn(graphdef, z)
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), p0, p1)
    grams = jax.jit(jax.vmap(lambda p: ntk_gram(f, p)))(stacked)
    svals = jax.jit(jax.vmap(lambda p: top_k_svd(jax.random.key(5), f, p, 3).singular_values))(
        stacked
    )
    for i, p in enumerate((p0, p1)):
        jac = _dense(f, p)[0]
        np.testing.assert_allclose(grams[i], jac @ jac.T, rtol=1e-4, atol=1e-4 * np.abs(jac).max() ** 2)
        np.testing.assert_allclose(svals[i], np.linalg.svd(jac, compute_uv=False)[:3], rtol=1e-4)
    assert not np.allclose(grams[0], grams[1])


def test_complex_measurement_is_treated_as_real_pairs():
    graphdef, params, z = _tiny()
    w = jnp.exp(1j * jnp.linspace(0.0, 3.0, 64)).reshape(HW + (1,)).astype(jnp.complex64)
    f = measurement_fn(graphdef, z, _ComplexMask(w))
    flat, unravel = ravel_pytree(params)
    jac_c = np.asarray(jax.jit(jax.jacfwd(lambda q: jnp.ravel(f(unravel(q)))))(flat), np.complex128)
    jac = np.concatenate([jac_c.real, jac_c.imag])
    v = jax.random.normal(jax.random.key(6), flat.shape)
    u = (jax.random.normal(jax.random.key(7), HW + (1,)) + 1j).astype(jnp.complex64)
    jv = jax.jit(jvp)(f, params, unravel(v))
    assert jv.dtype == jnp.complex64
    np.testing.assert_allclose(np.ravel(jv), jac_c @ np.asarray(v, np.float64), rtol=1e-4, atol=1e-5)
    jtu = ravel_pytree(jax.jit(vjp)(f, params, u))[0]
    lhs = np.vdot(np.ravel(u), np.ravel(jv)).real
    assert abs(lhs - float(jnp.vdot(v, jtu))) <= 1e-5 * abs(lhs)
    svd = jax.jit(lambda p: top_k_svd(jax.random.key(8), f, p, 4, num_matvecs=30))(params)
    np.testing.assert_allclose(svd.singular_values, np.linalg.svd(jac, compute_uv=False)[:4], rtol=1e-4)
    assert svd.left_vectors.dtype == jnp.complex64 and svd.left_vectors.shape == (4,) + HW + (1,)
    assert jax.jit(ntk_gram)(f, params).shape == (128, 128)


def test_skip_generator_jvp_matches_jacobian_and_no_recompile():
    from jaxdip.models.skip import Skip

    net = Skip(channels_down=(4,), channels_up=(4,), channels_skip=(2,), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(net, nnx.Param)
    f = measurement_fn(graphdef, net.make_input(jax.random.key(1), HW), Identity(HW + (3,)))
    flat, unravel = ravel_pytree(params)
    # jit: the eager jacrev dispatches the vmapped backward op by op (28 s against 4 s)
    jac = np.asarray(jax.jit(jax.jacrev(lambda q: jnp.ravel(f(unravel(q)))))(flat), np.float64)
    v = jax.random.normal(jax.random.key(2), flat.shape)
    # jitted, with the generator as a pytree argument (eager, the skip net's custom JVPs dispatch
    # op by op: 22 s here)
    np.testing.assert_allclose(
        np.ravel(jax.jit(jvp)(f, params, unravel(v))), jac @ np.asarray(v, np.float64),
        rtol=1e-3, atol=1e-5,
    )
    traces = []

    @jax.jit
    def spectrum(fn, p):
        traces.append(1)
        return top_k_svd(jax.random.key(3), fn, p, 4, num_matvecs=24).singular_values

    s = spectrum(f, params)
    np.testing.assert_allclose(s, np.linalg.svd(jac, compute_uv=False)[:4], rtol=1e-3)
    f2 = measurement_fn(graphdef, net.make_input(jax.random.key(9), HW), Identity(HW + (3,)))
    assert not np.allclose(spectrum(f2, params), s)
    assert len(traces) == 1


def test_band_energy_and_coefficients():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(12, 12)))[0].T.reshape(12, 3, 4)  # orthonormal rows
    target = rng.normal(size=(3, 4))
    c = coefficients(jnp.asarray(basis, jnp.float32), jnp.asarray(target, jnp.float32))
    np.testing.assert_allclose(c, basis.reshape(12, -1) @ target.ravel(), rtol=1e-5, atol=1e-6)
    e = band_energy(jnp.asarray(basis, jnp.float32), jnp.asarray(target, jnp.float32), (0, 2, 7, 12))
    ref = np.asarray(c, np.float64) ** 2 / np.sum(target**2)
    np.testing.assert_allclose(e, [ref[:2].sum(), ref[2:7].sum(), ref[7:].sum()], rtol=1e-5)
    np.testing.assert_allclose(float(jnp.sum(e)), 1.0, rtol=1e-5)  # complete basis: all energy
    e4 = band_energy(jnp.asarray(basis[:8], jnp.float32), jnp.asarray(target, jnp.float32), 4)
    np.testing.assert_allclose(e4, ref[:8].reshape(4, 2).sum(1), rtol=1e-5)
    with pytest.raises(ValueError, match="bands: expected"):
        band_energy(jnp.asarray(basis), jnp.asarray(target), (0, 5, 3))
    with pytest.raises(ValueError, match="left_vectors, target"):
        band_energy(jnp.asarray(basis), jnp.ones((4, 3)), 2)


def test_predicted_variance_curve_matches_simulated_linear_gd(tiny):
    _, _, jac, _, _ = tiny
    m, n = jac.shape
    rng = np.random.default_rng(1)
    yhat = rng.normal(size=m)  # y - f0
    wl, s, _ = np.linalg.svd(jac, full_matrices=False)
    lr = 1.0 / s[0] ** 2
    window, steps = 10, 60
    # plain gradient descent on 1/2 ||f0 + J d - y||^2 in the increment d = theta - theta0 (float64)
    d = np.zeros(n)
    xs = []
    for _ in range(steps + window - 1):
        x = jac @ d  # iterate minus f0
        xs.append(x)
        d = d - lr * jac.T @ (x - yhat)
    xs = np.stack(xs)
    var = np.array(
        [np.mean(np.sum((xs[t : t + window] - xs[t : t + window].mean(0)) ** 2, 1)) / m for t in range(steps)]
    )
    pred = predicted_variance_curve(
        jnp.asarray(s, jnp.float32), jnp.asarray(wl.T @ yhat, jnp.float32), lr, window, steps, size=m
    )
    assert pred.shape == (steps,)
    np.testing.assert_allclose(pred, var, rtol=2e-3)
    assert var[0] > 10 * var[-1]  # the variance falls as signal directions are fitted


def test_validation_errors(tiny):
    f, params, _, _, _ = tiny
    with pytest.raises(ValueError, match="k: expected an int in"):
        top_k_svd(jax.random.key(0), f, params, 65)
    with pytest.raises(ValueError, match="num_matvecs"):
        top_k_svd(jax.random.key(0), f, params, 10, num_matvecs=5)
    with pytest.raises(ValueError, match="oversample"):
        randomized_svd(jax.random.key(0), f, params, 60, oversample=10)
    with pytest.raises(ValueError, match="v: expected"):
        jvp(f, params, {"a": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"u: expected the output shape \(8, 8, 1\)"):
        vjp(f, params, jnp.ones((8, 8)))
    with pytest.raises(TypeError, match="graphdef"):
        generator_fn(params, jnp.ones(HW + (2,)))
    with pytest.raises(TypeError, match="operator"):
        measurement_fn(f.graphdef, jnp.ones(HW + (2,)), lambda x: x)
    with pytest.raises(ValueError, match="z: expected finite"):
        generator_fn(f.graphdef, jnp.full(HW + (2,), jnp.nan))
    with pytest.raises(ValueError, match="lr: expected lr"):
        predicted_variance_curve(jnp.array([2.0]), jnp.array([1.0]), 1.0, 5, 5)
    with pytest.raises(ValueError, match="singular_values, coefficients"):
        predicted_variance_curve(jnp.ones(3), jnp.ones(2), 0.1, 5, 5)
