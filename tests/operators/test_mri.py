import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.mri import MRI, fft2c, ifft2c, rss
from tests.operators.adjoint_check import assert_adjoint

H, W = 7, 9


def _complex(rng, shape):
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def _np_fft2c(x):
    return np.fft.fftshift(
        np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )


def _maps(rng, coils):
    maps = _complex(rng, (coils, H, W))
    return maps / np.sqrt(np.sum(np.abs(maps) ** 2, axis=0, keepdims=True))


def test_fft2c_matches_numpy_and_is_unitary():
    x = _complex(np.random.default_rng(0), (2, H, W))
    np.testing.assert_allclose(np.asarray(fft2c(jnp.asarray(x))), _np_fft2c(x), atol=1e-5)
    np.testing.assert_allclose(np.asarray(ifft2c(fft2c(jnp.asarray(x)))), x, atol=1e-5)
    assert np.isclose(
        np.linalg.norm(np.asarray(fft2c(jnp.asarray(x)))), np.linalg.norm(x), rtol=1e-5
    )


def test_single_coil_matches_numpy():
    rng = np.random.default_rng(1)
    x = _complex(rng, (H, W))
    mask = (rng.random((H, W)) < 0.4).astype(np.float32)
    y = MRI(jnp.asarray(mask))(jnp.asarray(x))
    assert y.shape == (H, W) and y.dtype == jnp.complex64
    np.testing.assert_allclose(np.asarray(y), mask * _np_fft2c(x), atol=1e-5)


def test_line_mask_selects_phase_encode_columns():
    rng = np.random.default_rng(2)
    x = _complex(rng, (H, W))
    lines = np.zeros(W, np.float32)
    lines[[0, 4, 5]] = 1.0
    op = MRI(jnp.asarray(lines), shape=(H, W))
    y = np.asarray(op(jnp.asarray(x)))
    np.testing.assert_allclose(y, lines[None, :] * _np_fft2c(x), atol=1e-5)
    assert np.all(y[:, 1] == 0) and np.all(np.abs(y[:, 4]) > 0)
    assert op.mask.shape == (H, W)


def test_multi_coil_matches_numpy():
    rng = np.random.default_rng(3)
    x = _complex(rng, (H, W))
    maps = _complex(rng, (4, H, W))
    lines = (rng.random(W) < 0.5).astype(np.float32)
    op = MRI(jnp.asarray(lines), jnp.asarray(maps))
    assert op.out_shape == (4, H, W) and op.n_coils == 4
    np.testing.assert_allclose(
        np.asarray(op(jnp.asarray(x))), lines * _np_fft2c(maps * x), atol=1e-4
    )


@pytest.mark.parametrize("coils", [None, 3])
def test_dot_test(coils):
    rng = np.random.default_rng(4)
    mask = (rng.random((H, W)) < 0.5).astype(np.float32)
    maps = None if coils is None else jnp.asarray(_complex(rng, (coils, H, W)))
    assert_adjoint(MRI(jnp.asarray(mask), maps))


def test_full_mask_normalised_maps_give_identity_gram():
    rng = np.random.default_rng(5)
    op = MRI(jnp.ones((H, W)), jnp.asarray(_maps(rng, 4)))
    x = _complex(rng, (H, W))
    np.testing.assert_allclose(np.asarray(op.gram(jnp.asarray(x))), x, atol=1e-5)
    assert abs(float(op.norm()) - 1.0) < 1e-3


def test_zero_filled_and_rss():
    rng = np.random.default_rng(6)
    maps = _maps(rng, 3)
    x = _complex(rng, (H, W))
    op = MRI(jnp.ones((H, W)), jnp.asarray(maps))
    coil_images = op.zero_filled(op(jnp.asarray(x)))
    np.testing.assert_allclose(np.asarray(coil_images), maps * x, atol=1e-5)
    # normalised maps: rss of the coil images is |x|
    np.testing.assert_allclose(np.asarray(rss(coil_images)), np.abs(x), atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(rss(jnp.asarray([[3.0, 1.0]]), axis=1)), [np.sqrt(10)], rtol=1e-6
    )


def test_jit_with_new_mask_and_maps_compiles_once():
    calls = []

    @jax.jit
    def f(op, x):
        calls.append(1)
        return op.adjoint(op(x))

    rng = np.random.default_rng(7)
    x = jnp.asarray(_complex(rng, (H, W)))
    f(MRI(jnp.ones(W), jnp.asarray(_maps(rng, 2))), x)
    lines = (rng.random(W) < 0.5).astype(np.float32)
    f(MRI(jnp.asarray(lines), jnp.asarray(_maps(rng, 2))), x)
    f(MRI(jnp.asarray(np.ones((H, W), np.float32)), jnp.asarray(_maps(rng, 2))), x)
    assert len(calls) == 1


def test_vmap_over_images_and_operators():
    rng = np.random.default_rng(8)
    xs = jnp.asarray(_complex(rng, (3, H, W)))
    op = MRI(jnp.ones((H, W)))
    np.testing.assert_allclose(np.asarray(jax.vmap(op)(xs)), _np_fft2c(np.asarray(xs)), atol=1e-5)
    masks = jnp.asarray((rng.random((3, H, W)) < 0.5).astype(np.float32))
    ops = jax.vmap(lambda m: MRI(m))(masks)
    ys = jax.vmap(lambda o, x: o(x))(ops, xs)
    np.testing.assert_allclose(
        np.asarray(ys), np.asarray(masks) * _np_fft2c(np.asarray(xs)), atol=1e-5
    )


def test_bad_inputs_name_the_argument():
    good_maps = jnp.asarray(_maps(np.random.default_rng(9), 2))
    with pytest.raises(ValueError, match="mask.*NaN"):
        MRI(jnp.asarray(np.full((H, W), np.nan, np.float32)))
    bad_maps = np.asarray(good_maps).copy()
    bad_maps[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match="coil_maps.*NaN"):
        MRI(jnp.ones((H, W)), jnp.asarray(bad_maps))
    with pytest.raises(ValueError, match=r"coil_maps expected shape \(coils, H, W\)"):
        MRI(jnp.ones((H, W)), good_maps[0])
    with pytest.raises(ValueError, match=r"mask expected shape \(7, 9\) or \(9,\)"):
        MRI(jnp.ones((W, H)), good_maps)
    with pytest.raises(ValueError, match="shape expected \\(H, W\\) when mask is a line mask"):
        MRI(jnp.ones(W))
    with pytest.raises(ValueError, match="mask expected shape"):
        MRI(jnp.ones((2, H, W)))
    with pytest.raises(TypeError, match="mask expected real values"):
        MRI(jnp.ones((H, W), jnp.complex64))
    with pytest.raises(TypeError, match="mask"):
        MRI(None)
    op = MRI(jnp.ones((H, W)), good_maps)
    with pytest.raises(ValueError, match=r"x expected shape \(7, 9\)"):
        op(jnp.ones((H, W, 1), jnp.complex64))
    with pytest.raises(ValueError, match=r"y expected shape \(2, 7, 9\)"):
        op.adjoint(jnp.ones((H, W), jnp.complex64))
