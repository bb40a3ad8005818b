import os

import jax
import numpy as np
import pytest
import skimage.data
import skimage.transform
from PIL import Image

from jaxdip import data

KEY = jax.random.key(0)


# ------------------------------------------------------------------------------------ images


@pytest.mark.parametrize("name", ["camera", "astronaut", "coffee", "logo"])
def test_load_bundled_native(name):
    x = data.load_image(name)
    raw = getattr(skimage.data, name)()
    assert x.dtype == np.float32 and x.ndim == 3
    assert x.shape[:2] == raw.shape[:2]
    assert x.shape[-1] == (1 if raw.ndim == 2 else 3)
    assert 0.0 <= x.min() and x.max() <= 1.0
    if raw.ndim == 2 or raw.shape[-1] == 3:
        np.testing.assert_allclose(x, raw.reshape(x.shape) / 255.0, atol=1e-6)


def test_all_names_load():
    for name in data.IMAGE_NAMES:
        x = data.load_image(name)
        assert x.shape[:2] == np.shape(getattr(skimage.data, name)())[:2], name
        assert x.shape[-1] in (1, 3), name
        assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0, name


def test_size_crops_to_aspect_then_resizes():
    x = data.load_image("coffee", size=(32, 48))  # coffee is 400 x 600: aspect kept, no crop
    raw = skimage.data.coffee() / 255.0
    ref = np.clip(skimage.transform.resize(raw, (32, 48), order=3, anti_aliasing=True), 0, 1)
    np.testing.assert_allclose(x, ref, atol=1e-5)
    x = data.load_image("coffee", size=32)  # square: crop columns 100..500 first
    ref = np.clip(
        skimage.transform.resize(raw[:, 100:500], (32, 32), order=3, anti_aliasing=True), 0, 1
    )
    np.testing.assert_allclose(x, ref, atol=1e-5)


def test_gray_and_multiple_of():
    rgb = data.load_image("astronaut", size=40)
    g = data.load_image("astronaut", size=40, gray=True)
    assert g.shape == (40, 40, 1)
    np.testing.assert_allclose(g[..., 0], rgb @ np.array([0.299, 0.587, 0.114]), atol=2e-3)
    assert data.load_image("camera", gray=True).shape == (512, 512, 1)
    x = data.load_image("coins", multiple_of=32)  # 303 x 384 -> 288 x 384, centred
    assert x.shape == (288, 384, 1)
    np.testing.assert_allclose(x[..., 0], skimage.data.coins()[7:295] / 255.0, atol=1e-6)


def test_load_errors():
    with pytest.raises(ValueError, match=r"unknown image name 'lenna'.*astronaut"):
        data.load_image("lenna")
    with pytest.raises(FileNotFoundError, match="no such file"):
        data.load_image("/nonexistent/dir/x.png")
    with pytest.raises(ValueError, match=r"unsupported file format '.gif'"):
        data.load_image("picture.gif")
    with pytest.raises(ValueError, match="size"):
        data.load_image("camera", size=(0, 4))
    with pytest.raises(ValueError, match="multiple_of"):
        data.load_image("camera", multiple_of=0)
    with pytest.raises(TypeError, match="name_or_path"):
        data.load_image(3)


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (20, 24, 3)).astype(np.float32)
    p = data.save_image(tmp_path / "x.png", x)
    assert p == tmp_path / "x.png" and os.listdir(tmp_path) == ["x.png"]  # no temp file left
    y = data.load_image(str(p))
    assert y.shape == x.shape
    assert np.max(np.abs(y - x)) <= 0.5 / 255 + 1e-6
    data.save_image(p, x[..., :1])  # overwrite in place, one channel
    assert data.load_image(p).shape == (20, 24, 1)
    with pytest.raises(ValueError, match="path: expected a file name ending in .png"):
        data.save_image(tmp_path / "x.jpg", x)
    with pytest.raises(ValueError, match="x: expected finite"):
        data.save_image(tmp_path / "y.png", np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match=r"x: expected shape"):
        data.save_image(tmp_path / "y.png", np.zeros((4, 4, 2)))


def test_load_files_npy_16bit_alpha(tmp_path):
    a = np.linspace(0, 1, 48).reshape(6, 8, 1).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    np.testing.assert_allclose(data.load_image(tmp_path / "a.npy"), a)
    np.save(tmp_path / "b.npy", a * 2)
    with pytest.raises(ValueError, match=r"float pixels in \[0, 1\]"):
        data.load_image(tmp_path / "b.npy")
    u16 = (a[..., 0] * 65535).astype(np.uint16)
    Image.fromarray(u16).save(tmp_path / "c.png")
    np.testing.assert_allclose(data.load_image(tmp_path / "c.png")[..., 0], u16 / 65535, atol=1e-6)
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half transparent -> white
    Image.fromarray(rgba).save(tmp_path / "d.png")
    x = data.load_image(tmp_path / "d.png")
    np.testing.assert_allclose(x[:2], np.broadcast_to([1.0, 0.0, 0.0], (2, 4, 3)))
    np.testing.assert_allclose(x[2:], 1.0)


# ------------------------------------------------------------------------------------ phantoms


def test_shepp_logan_matches_skimage():
    p = np.asarray(data.shepp_logan(400))
    assert p.shape == (400, 400, 1) and p.dtype == np.float32
    assert p.min() == 0.0 and p.max() == 1.0
    ref = skimage.data.shepp_logan_phantom()  # stored with 8-bit quantised intensities
    agree = np.abs(p[..., 0] - ref) < 0.01
    assert agree.mean() > 0.99  # only ellipse-boundary pixels may differ
    assert np.allclose(np.unique(np.round(p, 3)), [0.0, 0.1, 0.2, 0.3, 0.4, 1.0])


def test_random_ellipses():
    keys = jax.random.split(KEY, 3)
    imgs = np.asarray(jax.vmap(lambda k: data.random_ellipses(k, 32, 8))(keys))
    assert imgs.shape == (3, 32, 32, 1) and imgs.dtype == np.float32
    for img in imgs:
        assert img.min() == 0.0 and abs(img.max() - 1.0) < 1e-6
        assert 0.05 < (img > 0).mean() < 0.95
    assert not np.allclose(imgs[0], imgs[1])
    np.testing.assert_array_equal(imgs[0], np.asarray(data.random_ellipses(keys[0], 32, 8)))
    with pytest.raises(ValueError, match="num_ellipses"):
        data.random_ellipses(KEY, 32, 0)


# ------------------------------------------------------------------------------------ masks


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_random_pixel_mask_fraction(keep):
    m = np.asarray(data.random_pixel_mask(KEY, (40, 50, 3), keep=keep))
    assert m.shape == (40, 50, 1) and m.dtype == np.float32
    assert set(np.unique(m).tolist()) <= {0.0, 1.0}
    assert m.sum() == round(keep * 2000)
    assert np.abs(m[:20].mean() - m[20:].mean()) < 0.1  # spread over the image
    with pytest.raises(ValueError, match="keep"):
        data.random_pixel_mask(KEY, (4, 4), keep=1.5)


def test_random_block_mask_fraction():
    m = np.asarray(data.random_block_mask(KEY, (64, 64), block=8, fraction=0.25))[..., 0]
    assert m.shape == (64, 64)
    assert 1.0 - m.mean() == 0.25
    cells = m.reshape(8, 8, 8, 8).transpose(0, 2, 1, 3).reshape(64, 64)
    assert np.all((cells.min(1) == cells.max(1)))  # each 8x8 cell is all kept or all missing
    m = np.asarray(data.random_block_mask(KEY, (30, 20), block=8, fraction=0.5))
    assert m.shape == (30, 20, 1)
    with pytest.raises(ValueError, match="block"):
        data.random_block_mask(KEY, (8, 8), block=0)


def test_text_mask():
    m = np.asarray(data.text_mask((64, 96), "Hello", font_size=14))
    assert m.shape == (64, 96, 1) and m.dtype == np.float32
    assert set(np.unique(m).tolist()) == {0.0, 1.0}
    assert 0.03 < 1.0 - m.mean() < 0.5
    rows_with_text = (m[..., 0] == 0).any(axis=1)
    assert rows_with_text[: 64 // 2].any() and rows_with_text[64 // 2 :].any()  # fills the image
    bigger = np.asarray(data.text_mask((64, 96), "Hello", font_size=24))
    assert not np.array_equal(m, bigger)
    with pytest.raises(ValueError, match="text"):
        data.text_mask((16, 16), "  ")


@pytest.mark.parametrize("pattern", ["random", "equispaced"])
def test_mri_mask(pattern):
    h, w = 16, 128
    m = data.mri_mask(KEY, (h, w), acceleration=4, center_fraction=0.08, pattern=pattern)
    m = np.asarray(m)
    assert m.shape == (h, w) and m.dtype == np.float32
    assert np.all(m == m[:1])  # whole columns (phase-encode lines)
    cols = m[0]
    assert cols.sum() == 32  # exactly W / acceleration lines
    num_low = round(0.08 * w)
    assert np.all(cols[w // 2 - num_low // 2 : w // 2 - num_low // 2 + num_low] == 1)
    other = data.mri_mask(jax.random.key(7), (h, w), pattern=pattern)
    assert not np.array_equal(m, np.asarray(other))
    if pattern == "equispaced":
        gaps = np.diff(np.flatnonzero(cols[: w // 2 - num_low // 2]))
        assert gaps.max() - gaps.min() <= 1


def test_mri_mask_errors():
    with pytest.raises(ValueError, match="center_fraction"):
        data.mri_mask(KEY, (8, 64), acceleration=8, center_fraction=0.3)
    with pytest.raises(ValueError, match="acceleration"):
        data.mri_mask(KEY, (8, 64), acceleration=0.5)
    with pytest.raises(ValueError, match="pattern"):
        data.mri_mask(KEY, (8, 64), pattern="spiral")


# ------------------------------------------------------------------------------------ coils


def test_coil_maps():
    s = np.asarray(data.coil_maps((32, 40), 8))
    assert s.shape == (8, 32, 40) and s.dtype == np.complex64
    np.testing.assert_allclose(np.sum(np.abs(s) ** 2, axis=0), 1.0, atol=1e-5)
    mag = np.abs(s)
    assert mag[0, :, -8:].mean() > 2 * mag[0, :, :8].mean()  # coil 0 sits at angle 0 (right)
    assert mag[2, :8].mean() > 2 * mag[2, -8:].mean()  # coil 2 sits at angle pi/2 (top)
    assert np.max(np.abs(np.diff(s, axis=-1))) < 0.2  # smooth
    single = np.asarray(data.coil_maps((8, 8), 1))
    np.testing.assert_allclose(np.abs(single), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="num_coils"):
        data.coil_maps((8, 8), 0)


# ------------------------------------------------------------------------------------ kernels


def test_gaussian_kernel():
    k = np.asarray(data.gaussian_kernel(7, 1.2))
    assert k.shape == (7, 7)
    np.testing.assert_allclose(k.sum(), 1.0, atol=1e-6)
    np.testing.assert_allclose(k, k.T, atol=1e-7)
    np.testing.assert_allclose(k[3, 4] / k[3, 3], np.exp(-1 / (2 * 1.2**2)), rtol=1e-5)
    big = np.asarray(data.gaussian_kernel(41, 2.0), np.float64)
    t = np.arange(41) - 20
    np.testing.assert_allclose(np.sum(big.sum(0) * t**2), 4.0, rtol=1e-4)  # variance sigma^2
    even = np.asarray(data.gaussian_kernel(4, 1.0))
    np.testing.assert_allclose(even, even[::-1, ::-1], atol=1e-7)  # centred between pixels
    with pytest.raises(ValueError, match="sigma"):
        data.gaussian_kernel(5, 0.0)


def test_motion_kernel():
    keys = jax.random.split(KEY, 4)
    ks = np.asarray(jax.vmap(lambda k: data.motion_kernel(k, 21))(keys))
    assert ks.shape == (4, 21, 21) and ks.dtype == np.float32
    assert ks.min() >= 0.0
    np.testing.assert_allclose(ks.sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert not np.allclose(ks[0], ks[1])
    for k in ks:
        rows, cols = np.nonzero(k > 1e-4)
        extent = max(np.ptp(rows), np.ptp(cols))
        assert 4 <= extent <= 20  # a path, not a point, and inside the support
    short = np.asarray(data.motion_kernel(keys[0], 21, length=3.0))
    rows, cols = np.nonzero(short > 1e-4)
    assert max(np.ptp(rows), np.ptp(cols)) <= 4
    with pytest.raises(ValueError, match="size"):
        data.motion_kernel(KEY, 1)
