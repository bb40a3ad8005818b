import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.color
import skimage.data
import skimage.metrics

from jaxdip import metrics


@pytest.fixture(scope="module")
def pair():
    """A 64 x 64 colour crop of 'astronaut' and a noisy, clipped copy (float32 in [0, 1])."""
    x_true = skimage.data.astronaut()[200:264, 180:244].astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    x = np.clip(x_true + rng.normal(0, 0.08, x_true.shape), 0, 1).astype(np.float32)
    return x, x_true


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_psnr_matches_skimage(pair, data_range):
    x, x_true = (a * data_range for a in pair)
    ours = float(metrics.psnr(x, x_true, data_range=data_range))
    ref = skimage.metrics.peak_signal_noise_ratio(
        x_true.astype(np.float64), x.astype(np.float64), data_range=data_range
    )
    assert abs(ours - ref) < 1e-3


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_ssim_matches_skimage(pair, data_range):
    x, x_true = (a * data_range for a in pair)
    ours = float(metrics.ssim(x, x_true, data_range=data_range))
    ref = skimage.metrics.structural_similarity(
        x_true.astype(np.float64),
        x.astype(np.float64),
        data_range=data_range,
        channel_axis=-1,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert 0.2 < ref < 0.95  # a non-trivial value, so the comparison means something
    assert abs(ours - ref) < 1e-3


def test_ssim_gray_2d_and_identity(pair):
    g = pair[1][..., 0]
    ref = skimage.metrics.structural_similarity(
        g, pair[0][..., 0], data_range=1.0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False,
    )
    assert abs(float(metrics.ssim(pair[0][..., 0], g)) - ref) < 1e-3
    assert abs(float(metrics.ssim(g, g)) - 1.0) < 1e-6


def test_psnr_analytic_value():
    x_true = jnp.zeros((8, 8, 1))
    x = x_true + 0.05  # MSE = 0.0025 -> 10 log10(1 / 0.0025) = 26.0206 dB
    np.testing.assert_allclose(float(metrics.psnr(x, x_true)), 10 * np.log10(400.0), atol=1e-4)
    np.testing.assert_allclose(
        float(metrics.psnr(x * 2, x_true, data_range=2.0)), 10 * np.log10(400.0), atol=1e-4
    )


def test_relative_error_real_and_complex():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(6, 5, 2)).astype(np.float32)
    e = rng.normal(size=t.shape).astype(np.float32)
    ref = np.linalg.norm(e) / np.linalg.norm(t)
    np.testing.assert_allclose(float(metrics.relative_error(t + e, t)), ref, rtol=1e-5)
    tc = (t + 1j * e).astype(np.complex64)
    np.testing.assert_allclose(
        float(metrics.relative_error(tc * (1 + 0.1j), tc)), 0.1, rtol=1e-5
    )


def test_y_channel_psnr_matches_ycbcr_definition(pair):
    x, x_true = pair
    ref = skimage.metrics.peak_signal_noise_ratio(
        skimage.color.rgb2ycbcr(x_true)[4:-4, 4:-4, 0] / 255.0,
        skimage.color.rgb2ycbcr(x)[4:-4, 4:-4, 0] / 255.0,
        data_range=1.0,
    )
    assert abs(float(metrics.y_channel_psnr(x, x_true)) - ref) < 1e-3
    # the shaved border is ignored: corrupt it and nothing changes
    x_border = x.copy()
    x_border[:4] = 0.0
    x_border[:, -4:] = 1.0
    assert abs(float(metrics.y_channel_psnr(x_border, x_true)) - ref) < 1e-3
    # a grey image scores like its 3-channel copy
    g, gt = x[..., :1], x_true[..., :1]
    np.testing.assert_allclose(
        float(metrics.y_channel_psnr(g, gt)),
        float(metrics.y_channel_psnr(np.repeat(g, 3, -1), np.repeat(gt, 3, -1))),
        atol=1e-4,
    )


def test_errors_name_arguments():
    a, b = jnp.zeros((16, 16, 3)), jnp.zeros((16, 15, 3))
    for fn in (metrics.psnr, metrics.ssim, metrics.relative_error, metrics.y_channel_psnr):
        with pytest.raises(ValueError, match=r"x, x_true: expected equal shapes"):
            fn(a, b)
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(a, a, data_range=0.0)
    with pytest.raises(ValueError, match="data_range"):
        metrics.ssim(a, a, data_range=-1.0)
    with pytest.raises(ValueError, match="11 x 11"):
        metrics.ssim(jnp.zeros((8, 8, 1)), jnp.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match="shave"):
        metrics.y_channel_psnr(a, a, shave=8)
    with pytest.raises(TypeError, match="x: expected a real image"):
        metrics.psnr(jnp.zeros((4, 4, 1), jnp.complex64), jnp.zeros((4, 4, 1), jnp.complex64))


def test_jit_and_vmap(pair):
    x, x_true = pair
    f = jax.jit(lambda a, b: (metrics.psnr(a, b), metrics.ssim(a, b)))
    p, s = f(x, x_true)
    np.testing.assert_allclose(float(p), float(metrics.psnr(x, x_true)), rtol=1e-5)
    batch = jax.vmap(metrics.psnr)(jnp.stack([x, x_true + 0.1]), jnp.stack([x_true, x_true]))
    np.testing.assert_allclose(float(batch[1]), 20.0, atol=1e-3)


def test_api_habits():
    for fn in (metrics.psnr, metrics.ssim, metrics.relative_error, metrics.y_channel_psnr):
        names = list(inspect.signature(fn).parameters)
        assert names[:2] == ["x", "x_true"], fn.__name__
        assert fn.__doc__ and "Example" in fn.__doc__
