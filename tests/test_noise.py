import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip import noise

KEY = jax.random.key(0)
N = 256  # 256 x 256 samples: standard errors of the mean/std are about 0.4% of sigma


def _ramp():
    """A (256, 256, 1) image with values spread over [0.05, 0.95]."""
    return jnp.tile(jnp.linspace(0.05, 0.95, N)[None, :, None], (N, 1, 1)).astype(jnp.float32)


def test_gaussian_statistics_real():
    y = _ramp()
    z = noise.gaussian(KEY, y, 0.1)
    assert z.shape == y.shape and z.dtype == jnp.float32
    r = np.asarray(z - y)
    assert abs(r.mean()) < 3e-3
    assert abs(r.std() - 0.1) < 2e-3
    assert not np.allclose(np.asarray(noise.gaussian(jax.random.key(1), y, 0.1)), z)
    np.testing.assert_array_equal(np.asarray(noise.gaussian(KEY, y, 0.1)), z)


def test_gaussian_statistics_complex():
    y = (_ramp() * (1 + 1j)).astype(jnp.complex64)
    z = noise.gaussian(KEY, y, 0.2)
    assert z.dtype == jnp.complex64
    r = np.asarray(z - y)
    assert abs(np.mean(np.abs(r) ** 2) - 0.04) < 1.5e-3  # E|n|^2 = sigma^2
    assert abs(r.real.std() - 0.2 / np.sqrt(2)) < 2e-3
    assert abs(r.imag.std() - 0.2 / np.sqrt(2)) < 2e-3
    assert abs(np.corrcoef(r.real.ravel(), r.imag.ravel())[0, 1]) < 0.02


def test_poisson_statistics():
    y = jnp.full((N, N, 1), 0.4, jnp.float32)
    photons = 50.0
    z = np.asarray(noise.poisson(KEY, y, photons))
    assert abs(z.mean() - 0.4) < 3e-3
    assert abs(z.var() - 0.4 / photons) / (0.4 / photons) < 0.03
    counts = z * photons
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # integer photon counts
    z0 = np.asarray(noise.poisson(KEY, jnp.zeros((4, 4, 1)), photons))
    assert np.all(z0 == 0)


def test_impulse_statistics():
    y = jnp.full((N, N, 3), 0.5, jnp.float32)
    z = np.asarray(noise.impulse(KEY, y, 0.2))
    hit = z != 0.5
    assert abs(hit.mean() - 0.2) < 5e-3
    assert set(np.unique(z[hit]).tolist()) == {0.0, 1.0}
    assert abs((z[hit] == 1.0).mean() - 0.5) < 0.02
    z = np.asarray(noise.impulse(KEY, y, 0.1, salt_vs_pepper=1.0))
    assert set(np.unique(z).tolist()) == {0.5, 1.0}


def test_speckle_statistics():
    y = _ramp()
    z = noise.speckle(KEY, y, 0.3)
    r = np.asarray((z - y) / y)  # = n ~ N(0, 0.09)
    assert abs(r.mean()) < 5e-3
    assert abs(r.std() - 0.3) < 5e-3
    assert float(jnp.max(jnp.abs(noise.speckle(KEY, jnp.zeros((8, 8, 1)), 0.3)))) == 0.0


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda y: noise.gaussian(KEY, y, 0.0), "sigma"),
        (lambda y: noise.gaussian(KEY, y, -1.0), "sigma"),
        (lambda y: noise.poisson(KEY, y, 0.0), "photons"),
        (lambda y: noise.poisson(KEY, y - 1.0, 10.0), "y: expected non-negative"),
        (lambda y: noise.impulse(KEY, y, 1.5), "amount"),
        (lambda y: noise.impulse(KEY, y, 0.1, salt_vs_pepper=-0.1), "salt_vs_pepper"),
        (lambda y: noise.speckle(KEY, y, -0.2), "sigma"),
    ],
)
def test_range_errors_name_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call(jnp.full((4, 4, 1), 0.5))


def test_type_errors():
    with pytest.raises(TypeError, match="sigma"):
        noise.gaussian(KEY, jnp.zeros((4, 4, 1)), jnp.ones(3))
    with pytest.raises(TypeError, match="y: expected real"):
        noise.speckle(KEY, jnp.zeros((4, 4, 1), jnp.complex64), 0.1)


def test_jit_vmap_and_level_as_argument():
    y = jnp.full((8, 8, 1), 0.5)
    f = jax.jit(noise.gaussian)
    np.testing.assert_allclose(f(KEY, y, 0.1), noise.gaussian(KEY, y, 0.1), rtol=1e-6)
    keys = jax.random.split(KEY, 3)
    zs = jax.vmap(lambda k: noise.poisson(k, y, 20.0))(keys)
    assert zs.shape == (3, 8, 8, 1)
    assert not np.allclose(zs[0], zs[1])


def test_api_habits():
    for fn in (noise.gaussian, noise.poisson, noise.impulse, noise.speckle):
        params = list(inspect.signature(fn).parameters.values())
        assert [p.name for p in params[:2]] == ["key", "y"], fn.__name__
        assert all(p.kind is p.KEYWORD_ONLY for p in params[3:]), fn.__name__
