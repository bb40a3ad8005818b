import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.models.codes import coordinates, meshgrid, normal_noise, uniform_noise


def test_uniform_noise_range_and_determinism():
    z = uniform_noise(jax.random.key(0), (32, 32, 4))
    assert z.shape == (32, 32, 4) and z.dtype == jnp.float32
    assert 0.0 <= float(z.min()) and float(z.max()) <= 0.1
    assert abs(float(z.mean()) - 0.05) < 0.005
    np.testing.assert_array_equal(z, uniform_noise(jax.random.key(0), (32, 32, 4)))
    assert not np.allclose(z, uniform_noise(jax.random.key(1), (32, 32, 4)))
    assert float(uniform_noise(jax.random.key(0), (8, 8, 1), scale=1.0).max()) > 0.5


def test_normal_noise_moments():
    z = normal_noise(jax.random.key(3), (64, 64, 3), scale=0.1)
    assert z.dtype == jnp.float32
    assert abs(float(z.mean())) < 0.005
    assert abs(float(z.std()) - 0.1) < 0.005


def test_meshgrid_matches_dip_definition():
    h, w = 5, 7
    g = np.asarray(meshgrid((h, w)))
    xs, ys = np.meshgrid(np.arange(w) / (w - 1), np.arange(h) / (h - 1))
    np.testing.assert_allclose(g[..., 0], xs, atol=1e-6)
    np.testing.assert_allclose(g[..., 1], ys, atol=1e-6)
    with pytest.raises(ValueError, match="channels"):
        meshgrid((4, 4), channels=3)


def test_coordinates_grid():
    c = np.asarray(coordinates((3, 5)))
    assert c.shape == (3, 5, 2)
    np.testing.assert_allclose(c[:, 0, 0], [-1, 0, 1], atol=1e-6)
    np.testing.assert_allclose(c[0, :, 1], [-1, -0.5, 0, 0.5, 1], atol=1e-6)
    assert np.all(c[:, :, 0] == c[:, :1, 0])  # rows constant along columns


def test_errors_name_argument():
    with pytest.raises(ValueError, match="scale"):
        uniform_noise(jax.random.key(0), (4, 4, 1), scale=-1.0)
    with pytest.raises(ValueError, match="shape"):
        normal_noise(jax.random.key(0), (4, 0, 1))
    with pytest.raises(ValueError, match="shape_hw"):
        coordinates((0, 4))
    with pytest.raises(TypeError, match="shape_hw"):
        coordinates((4, 4, 4))
