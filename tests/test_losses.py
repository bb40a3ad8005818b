import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.losses import L1, MSE, TV, GradientRatio, Huber, get_loss, get_regularizer


def test_losses_match_numpy_real_and_complex():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 6, 2)), rng.normal(size=(5, 6, 2))
    assert np.isclose(float(MSE()(jnp.asarray(a), jnp.asarray(b))), np.mean((a - b) ** 2), rtol=1e-5)
    assert np.isclose(float(L1()(jnp.asarray(a), jnp.asarray(b))), np.mean(np.abs(a - b)), rtol=1e-5)
    c = a[..., 0] + 1j * a[..., 1]
    d = b[..., 0] + 1j * b[..., 1]
    got = float(MSE()(jnp.asarray(c, jnp.complex64), jnp.asarray(d, jnp.complex64)))
    assert np.isclose(got, np.mean(np.abs(c - d) ** 2), rtol=1e-5)


def test_huber_is_quadratic_then_linear():
    h = Huber(0.5)
    assert np.isclose(float(h(jnp.array([0.2]), jnp.array([0.0]))), 0.04)
    assert np.isclose(float(h(jnp.array([2.0]), jnp.array([0.0]))), 1.75)
    with pytest.raises(ValueError, match="delta"):
        Huber(0.0)


def test_tv_and_gradient_ratio_values():
    x = np.zeros((4, 5, 1), np.float32)
    x[:, 3:] = 1.0  # one vertical edge of height 4
    assert np.isclose(float(TV()(jnp.asarray(x))), 4 / x.size)
    iso = float(TV("isotropic")(jnp.asarray(x)))
    assert np.isclose(iso, 3 / x.size, rtol=1e-3)  # (H-1) rows of the common grid cross the edge
    ramp = np.tile(np.arange(5, dtype=np.float32), (4, 1))[..., None]
    g = np.concatenate([np.zeros(15), np.ones(16)])
    assert np.isclose(float(GradientRatio()(jnp.asarray(ramp))), g.sum() / np.sqrt((g**2).sum()), rtol=1e-5)
    grad = jax.grad(lambda v: TV("isotropic")(v))(jnp.asarray(x))
    assert np.all(np.isfinite(grad))


def test_names_and_errors():
    assert isinstance(get_loss("huber"), Huber)
    assert get_regularizer(None) is None
    with pytest.raises(ValueError, match="regularizer"):
        get_regularizer("tv2")
    with pytest.raises(ValueError, match="kind"):
        TV("l2")
