"""Test data: images, phantoms, masks, coil sensitivities and blur kernels.

Everything here is generated locally or read from the images bundled with scikit-image
(``skimage.data``); nothing is downloaded. Images are float32 ``(H, W, C)`` arrays in ``[0, 1]``.
Functions that draw random numbers take an explicit ``key`` (``jax.random.key``) as their first
argument and are written with ``jax.numpy``, so ``jax.vmap`` over keys gives batches.

Example:
    >>> import jax
    >>> x = load_image("camera", size=64)
    >>> x.shape, x.dtype
    ((64, 64, 1), dtype('float32'))
    >>> m = random_pixel_mask(jax.random.key(0), x.shape, keep=0.5)
    >>> float(m.mean())
    0.5
"""

from __future__ import annotations

import functools
import os
import pathlib
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import skimage.data
import skimage.transform
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "IMAGE_NAMES",
    "IMAGE_SUFFIXES",
    "load_image",
    "save_image",
    "shepp_logan",
    "random_ellipses",
    "random_pixel_mask",
    "random_block_mask",
    "text_mask",
    "mri_mask",
    "coil_maps",
    "gaussian_kernel",
    "motion_kernel",
]

#: Names accepted by :func:`load_image`: the images shipped inside scikit-image that load offline.
IMAGE_NAMES: tuple[str, ...] = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "cell",
    "checkerboard",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "shepp_logan_phantom",
    "text",
)

#: File suffixes accepted by :func:`load_image` (case-insensitive).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")

# ITU-R BT.601 luma weights (the ones PIL's "L" conversion and the SR Y channel use).
_LUMA = np.array([0.299, 0.587, 0.114], np.float64)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _as_size(name: str, size: Any) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
        or min(size) < 1
    ):
        raise ValueError(f"{name}: expected a positive int or a pair (h, w) of them, got {size!r}")
    return int(size[0]), int(size[1])


def _to_unit(arr: np.ndarray, source: str) -> np.ndarray:
    """Map an integer/bool/float array to float64 in [0, 1] (integers by their dtype's range)."""
    if arr.dtype == bool:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.unsignedinteger):
        return arr.astype(np.float64) / np.iinfo(arr.dtype).max
    if np.issubdtype(arr.dtype, np.integer):
        # PIL opens 16-bit PNGs as signed 32-bit ("I" mode): use the 16-bit range when it fits.
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise ValueError(f"{source}: expected non-negative integer pixels, got minimum {lo}")
        peak = 255 if hi <= 255 else 65535 if hi <= 65535 else np.iinfo(arr.dtype).max
        return arr.astype(np.float64) / peak
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{source}: expected finite pixel values, got NaN/inf")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{source}: expected float pixels in [0, 1], got range [{lo:.4g}, {hi:.4g}]; "
                "rescale the array before loading it"
            )
        return arr
    raise TypeError(f"{source}: unsupported pixel dtype {arr.dtype}")


def _composite_alpha(arr: np.ndarray) -> np.ndarray:
    """Blend (H, W, 2) grey+alpha or (H, W, 4) RGBA over a white background."""
    colour, alpha = arr[..., :-1], arr[..., -1:]
    return colour * alpha + (1.0 - alpha)


def _read_file(path: pathlib.Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(
            f"name_or_path: unsupported file format {path.suffix!r} for {str(path)!r}; "
            f"expected one of {', '.join(IMAGE_SUFFIXES)}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"name_or_path: no such file {str(path)!r}")
    if suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.ndim not in (2, 3):
            raise ValueError(
                f"{str(path)!r}: expected an (H, W) or (H, W, C) array, got {arr.shape}"
            )
        return _to_unit(arr, repr(str(path)))
    with Image.open(path) as im:
        if im.mode in ("P", "PA"):
            im = im.convert("RGBA")
        elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGB")
        has_alpha = im.mode in ("LA", "RGBA")
        arr = _to_unit(np.asarray(im), repr(str(path)))
    return _composite_alpha(arr) if has_alpha else arr


def _read_bundled(name: str) -> np.ndarray:
    arr = np.asarray(getattr(skimage.data, name)())
    arr = _to_unit(arr, f"skimage.data.{name}")
    return _composite_alpha(arr) if arr.ndim == 3 and arr.shape[-1] == 4 else arr


def _center_crop(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    top = (arr.shape[0] - h) // 2
    left = (arr.shape[1] - w) // 2
    return arr[top : top + h, left : left + w]


def load_image(
    name_or_path: str | os.PathLike,
    size: int | tuple[int, int] | None = None,
    gray: bool = False,
    multiple_of: int | None = None,
) -> np.ndarray:
    """Load a bundled scikit-image picture or an image file as float32 ``(H, W, C)`` in [0, 1].

    Args:
        name_or_path: one of :data:`IMAGE_NAMES` (scikit-image's bundled images), or the path of a
            PNG/JPEG/TIFF file or a ``.npy`` array (integers are scaled by their range: 255 for
            8-bit, 65535 for 16-bit; floats must already lie in [0, 1]).
        size: ``None`` keeps the native size; an int ``n`` or a pair ``(h, w)`` first centre-crops
            the picture to the aspect ratio ``h / w``, then resizes it to ``(h, w)`` with
            anti-aliasing (``skimage.transform.resize(..., order=3, anti_aliasing=True)``,
            clipped back to [0, 1]).
        gray: ``True`` returns one channel, the BT.601 luminance ``0.299 R + 0.587 G + 0.114 B``.
        multiple_of: after resizing, centre-crop height and width down to multiples of this
            positive int (e.g. ``2**5`` for a five-scale encoder-decoder).

    Grey sources (``camera``, ``moon``, single-channel files) are returned with one channel
    whatever ``gray`` says; expand them with ``jnp.repeat(x, 3, -1)`` when three are needed.
    Transparency (RGBA, grey+alpha, palette images) is blended over a white background.

    Returns:
        A NumPy float32 array of shape ``(H, W, C)``, ``C`` in {1, 3} for image files (``.npy``
        arrays keep their channel count).

    Example:
        >>> load_image("astronaut", size=(32, 48), multiple_of=16).shape
        (32, 48, 3)
    """
    if isinstance(name_or_path, str) and name_or_path in IMAGE_NAMES:
        arr = _read_bundled(name_or_path)
    elif isinstance(name_or_path, os.PathLike) or (
        isinstance(name_or_path, str)
        and (pathlib.Path(name_or_path).suffix or os.sep in name_or_path or "/" in name_or_path)
    ):
        arr = _read_file(pathlib.Path(name_or_path))
    elif isinstance(name_or_path, str):
        raise ValueError(
            f"name_or_path: unknown image name {name_or_path!r}; expected one of "
            f"{', '.join(IMAGE_NAMES)}, or the path of a {'/'.join(IMAGE_SUFFIXES)} file"
        )
    else:
        raise TypeError(
            f"name_or_path: expected a str or os.PathLike, got {type(name_or_path).__name__}"
        )
    if arr.ndim == 2:
        arr = arr[..., None]

    if gray and arr.shape[-1] != 1:
        if arr.shape[-1] != 3:
            raise ValueError(
                f"gray: luminance needs 1 or 3 channels, got an image with {arr.shape[-1]}"
            )
        arr = (arr @ _LUMA)[..., None]

    if size is not None:
        h, w = _as_size("size", size)
        height, width = arr.shape[:2]
        if height * w > width * h:  # too tall for the target aspect ratio: crop rows
            arr = _center_crop(arr, max(1, round(width * h / w)), width)
        else:
            arr = _center_crop(arr, height, max(1, round(height * w / h)))
        arr = skimage.transform.resize(arr, (h, w), order=3, anti_aliasing=True, mode="reflect")
        arr = np.clip(arr, 0.0, 1.0)

    if multiple_of is not None:
        if (
            not isinstance(multiple_of, (int, np.integer))
            or isinstance(multiple_of, bool)
            or multiple_of < 1
        ):
            raise ValueError(f"multiple_of: expected a positive int, got {multiple_of!r}")
        h = arr.shape[0] - arr.shape[0] % multiple_of
        w = arr.shape[1] - arr.shape[1] % multiple_of
        if h == 0 or w == 0:
            raise ValueError(
                f"multiple_of: {multiple_of} exceeds the image size {arr.shape[:2]}"
            )
        arr = _center_crop(arr, h, w)
    return np.ascontiguousarray(arr, dtype=np.float32)


def save_image(path: str | os.PathLike, x: Any) -> pathlib.Path:
    """Write ``x`` (``(H, W)`` or ``(H, W, C)``, C in {1, 3, 4}, values in [0, 1]) as an 8-bit PNG.

    Values are clipped to [0, 1] and rounded to ``round(255 x)``. The file is written atomically:
    to a temporary file in the same directory, then moved over ``path`` with :func:`os.replace`,
    so readers never see a half-written image.

    Example:
        >>> import tempfile, os
        >>> p = save_image(os.path.join(tempfile.mkdtemp(), "x.png"), np.zeros((4, 4, 3)))
        >>> p.name
        'x.png'
    """
    path = pathlib.Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path: expected a file name ending in .png, got {str(path)!r}")
    arr = np.asarray(x)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (3, 4))):
        raise ValueError(
            f"x: expected shape (H, W) or (H, W, C) with C in (1, 3, 4), got {np.shape(x)}"
        )
    if not np.issubdtype(arr.dtype, np.floating) and arr.dtype != bool:
        raise TypeError(f"x: expected a float array with values in [0, 1], got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("x: expected finite values, got NaN/inf")
    data = np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path: directory {str(path.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(data).save(f, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


# --------------------------------------------------------------------------------------------
# Phantoms
# --------------------------------------------------------------------------------------------


def _check_pos_int(name: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


@functools.partial(jax.jit, static_argnums=0)  # one program, not one compile per operation
def _ellipse_image(n: int, params: jax.Array) -> jax.Array:
    """Sum of constant ellipses on the square [-1, 1]^2 sampled at pixel centres.

    ``params`` rows are ``(intensity, a, b, x0, y0, phi)``: semi-axes ``a`` (along x) and ``b``
    (along y), centre ``(x0, y0)``, rotation ``phi`` in radians (counter-clockwise); x runs along
    columns left to right and y along rows bottom to top.
    """
    t = (2.0 * jnp.arange(n) + 1.0) / n - 1.0
    x = t[None, :]
    y = -t[:, None]

    def one(p):
        value, a, b, x0, y0, phi = p
        c, s = jnp.cos(phi), jnp.sin(phi)
        u = (x - x0) * c + (y - y0) * s
        v = -(x - x0) * s + (y - y0) * c
        return jnp.where((u / a) ** 2 + (v / b) ** 2 <= 1.0, value, 0.0)

    return jnp.sum(jax.vmap(one)(params), axis=0)


# Modified Shepp-Logan phantom (Toft 1996; Shepp & Logan 1974 with higher contrast):
# intensity, semi-axis a (x), semi-axis b (y), centre x0, y0, rotation (degrees).
_SHEPP_LOGAN = np.array(
    [
        [1.0, 0.69, 0.92, 0.0, 0.0, 0.0],
        [-0.8, 0.6624, 0.874, 0.0, -0.0184, 0.0],
        [-0.2, 0.11, 0.31, 0.22, 0.0, -18.0],
        [-0.2, 0.16, 0.41, -0.22, 0.0, 18.0],
        [0.1, 0.21, 0.25, 0.0, 0.35, 0.0],
        [0.1, 0.046, 0.046, 0.0, 0.1, 0.0],
        [0.1, 0.046, 0.046, 0.0, -0.1, 0.0],
        [0.1, 0.046, 0.023, -0.08, -0.605, 0.0],
        [0.1, 0.023, 0.023, 0.0, -0.606, 0.0],
        [0.1, 0.023, 0.046, 0.06, -0.605, 0.0],
    ]
)


def shepp_logan(n: int) -> jax.Array:
    """The modified Shepp-Logan head phantom, ``(n, n, 1)`` float32 with values in [0, 1].

    Rendered analytically from its ten ellipses (Shepp & Logan, IEEE TNS 1974, with the
    higher-contrast intensities of Toft, 1996), each pixel taking the summed intensity of the
    ellipses that contain its centre; the result matches ``skimage.data.shepp_logan_phantom``.

    Example:
        >>> shepp_logan(64).shape
        (64, 64, 1)
    """
    n = _check_pos_int("n", n)
    params = _SHEPP_LOGAN.copy()
    params[:, 5] = np.deg2rad(params[:, 5])
    img = _ellipse_image(n, jnp.asarray(params, jnp.float32))
    return jnp.clip(img, 0.0, 1.0)[..., None].astype(jnp.float32)


def random_ellipses(
    key: jax.Array,
    n: int,
    num_ellipses: int = 20,
    *,
    min_axis: float = 0.05,
    max_axis: float = 0.4,
) -> jax.Array:
    """A random-ellipses image ``(n, n, 1)`` in [0, 1], the synthetic data of educated DIP.

    ``num_ellipses`` ellipses with centres uniform in ``[-0.7, 0.7]^2`` (image = ``[-1, 1]^2``),
    semi-axes uniform in ``[min_axis, max_axis]``, angles uniform in ``[0, pi)`` and intensities
    uniform in ``[0.1, 1]`` are summed, and the sum is divided by its maximum, so the brightest
    pixel is 1 and the background 0. Pure JAX: jit and vmap over keys work (``n`` and
    ``num_ellipses`` are static).

    Example:
        >>> keys = jax.random.split(jax.random.key(0), 4)
        >>> imgs = jax.vmap(lambda k: random_ellipses(k, 32))(keys)
        >>> imgs.shape
        (4, 32, 32, 1)
    """
    n = _check_pos_int("n", n)
    num_ellipses = _check_pos_int("num_ellipses", num_ellipses)
    if not 0.0 < min_axis <= max_axis:
        raise ValueError(
            f"min_axis, max_axis: expected 0 < min_axis <= max_axis, got {min_axis}, {max_axis}"
        )
    return _random_ellipses(key, min_axis, max_axis, n, num_ellipses)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _random_ellipses(key, min_axis, max_axis, n, num_ellipses):
    kv, ka, kc, kp = jax.random.split(key, 4)
    shape = (num_ellipses,)
    value = jax.random.uniform(kv, shape, minval=0.1, maxval=1.0)
    axes = jax.random.uniform(ka, shape + (2,), minval=min_axis, maxval=max_axis)
    centre = jax.random.uniform(kc, shape + (2,), minval=-0.7, maxval=0.7)
    phi = jax.random.uniform(kp, shape, minval=0.0, maxval=jnp.pi)
    params = jnp.concatenate([value[:, None], axes, centre, phi[:, None]], axis=1)
    img = _ellipse_image(n, params)
    img = img / jnp.maximum(jnp.max(img), jnp.finfo(jnp.float32).tiny)
    return img[..., None].astype(jnp.float32)


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------


def _spatial(shape: Any) -> tuple[int, int]:
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) not in (2, 3)
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape)
        or min(shape) < 1
    ):
        raise ValueError(f"shape: expected (H, W) or (H, W, C) of positive ints, got {shape!r}")
    return int(shape[0]), int(shape[1])


def _check_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}: expected a float in [0, 1], got {type(value).__name__}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1], got {value}")
    return float(value)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _exact_subset(key: jax.Array, total: int, count: int) -> jax.Array:
    """Boolean vector of length ``total`` with exactly ``count`` uniformly chosen True entries."""
    return jax.random.permutation(key, total) < count


def random_pixel_mask(key: jax.Array, shape: tuple[int, ...], keep: float = 0.5) -> jax.Array:
    """Inpainting mask ``(H, W, 1)`` float32: 1 on exactly ``round(keep * H * W)`` random pixels.

    The pixels are drawn without replacement, uniformly; the mask is shared by all channels.
    ``shape`` is ``(H, W)`` or ``(H, W, C)``.

    Example:
        >>> m = random_pixel_mask(jax.random.key(1), (10, 10), keep=0.3)
        >>> m.shape, float(m.sum())
        ((10, 10, 1), 30.0)
    """
    h, w = _spatial(shape)
    keep = _check_fraction("keep", keep)
    mask = _exact_subset(key, h * w, round(keep * h * w))
    return mask.reshape(h, w, 1).astype(jnp.float32)


def random_block_mask(
    key: jax.Array, shape: tuple[int, ...], block: int = 8, fraction: float = 0.25
) -> jax.Array:
    """Mask ``(H, W, 1)`` float32 with random ``block x block`` holes (0) on a regular grid.

    The image is tiled by ``ceil(H / block) x ceil(W / block)`` cells and exactly
    ``round(fraction * cells)`` of them, chosen uniformly, are set to 0; when ``block`` divides
    ``H`` and ``W`` the missing pixel fraction is exactly ``fraction`` (up to rounding).

    Example:
        >>> m = random_block_mask(jax.random.key(0), (32, 32), block=8, fraction=0.25)
        >>> float(1 - m.mean())
        0.25
    """
    h, w = _spatial(shape)
    block = _check_pos_int("block", block)
    fraction = _check_fraction("fraction", fraction)
    gh, gw = -(-h // block), -(-w // block)
    holes = _exact_subset(key, gh * gw, round(fraction * gh * gw)).reshape(gh, gw)
    full = jnp.repeat(jnp.repeat(holes, block, axis=0), block, axis=1)[:h, :w]
    return jnp.where(full, 0.0, 1.0)[..., None].astype(jnp.float32)


def text_mask(
    shape: tuple[int, ...],
    text: str = "Deep image prior in JAX",
    font_size: int = 16,
    *,
    line_spacing: float = 1.6,
) -> jax.Array:
    """Text-overlay inpainting mask ``(H, W, 1)`` float32: 0 where text is drawn, 1 elsewhere.

    ``text`` is repeated along lines that fill the image (``line_spacing * font_size`` pixels
    apart, each shifted sideways), rendered with PIL's built-in scalable font
    (``ImageFont.load_default(size=font_size)``, no font file needed). Deterministic.

    Example:
        >>> m = text_mask((64, 64), "abc", font_size=12)
        >>> m.shape, 0.0 < float(m.mean()) < 1.0
        ((64, 64, 1), True)
    """
    h, w = _spatial(shape)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text: expected a non-empty string, got {text!r}")
    font_size = _check_pos_int("font_size", font_size)
    if not line_spacing >= 1.0:
        raise ValueError(f"line_spacing: expected a float >= 1, got {line_spacing}")
    font = ImageFont.load_default(size=font_size)
    canvas = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(canvas)
    step = max(1, round(line_spacing * font_size))
    unit = text.strip() + "  "
    unit_len = max(1.0, draw.textlength(unit, font=font))
    line = unit * (int(w / unit_len) + 2)
    for i, top in enumerate(range(step // 4, h, step)):
        draw.text((-((i * unit_len / 3.0) % unit_len), top), line, fill=0, font=font)
    mask = np.asarray(canvas) >= 128
    return jnp.asarray(mask, jnp.float32)[..., None]


def mri_mask(
    key: jax.Array,
    shape: tuple[int, int],
    acceleration: float = 4,
    center_fraction: float = 0.08,
    pattern: str = "random",
) -> jax.Array:
    """Cartesian undersampling mask ``(H, W)`` float32 of phase-encode lines (columns).

    For *centred* k-space (DC at column ``W // 2``, i.e. after ``fftshift``): the
    ``round(center_fraction * W)`` columns around the centre are always sampled, and further
    columns are added until exactly ``round(W / acceleration)`` columns are sampled, so the
    realised acceleration is ``W / round(W / acceleration)``. ``pattern='random'`` draws the
    extra columns uniformly without replacement; ``'equispaced'`` spaces them evenly over the
    non-central columns with a random offset (fastMRI-style masks, Zbontar et al. 2018).
    Use ``jnp.fft.ifftshift(mask)`` for uncentred k-space.

    Example:
        >>> m = mri_mask(jax.random.key(0), (32, 64), acceleration=4)
        >>> m.shape, float(m[0].sum())
        ((32, 64), 16.0)
    """
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape)
        or min(shape) < 1
    ):
        raise ValueError(f"shape: expected (H, W) of positive ints, got {shape!r}")
    h, w = int(shape[0]), int(shape[1])
    if not float(acceleration) >= 1.0:
        raise ValueError(f"acceleration: expected a number >= 1, got {acceleration}")
    center_fraction = _check_fraction("center_fraction", center_fraction)
    if pattern not in ("random", "equispaced"):
        raise ValueError(f"pattern: expected 'random' or 'equispaced', got {pattern!r}")
    total = max(1, round(w / float(acceleration)))
    num_low = round(center_fraction * w)
    if num_low > total:
        raise ValueError(
            f"center_fraction: the {num_low} central columns exceed the {total} columns allowed "
            f"by acceleration={acceleration} (W={w})"
        )
    start = w // 2 - num_low // 2
    centre = np.zeros(w, bool)
    centre[start : start + num_low] = True
    outside = jnp.asarray(np.flatnonzero(~centre))
    extra = total - num_low
    if extra == 0:
        cols = jnp.asarray(centre)
    elif pattern == "random":
        chosen = _exact_subset(key, outside.size, extra)
        cols = jnp.asarray(centre).at[outside].set(chosen)
    else:
        spacing = outside.size / extra
        offset = jax.random.uniform(key, (), maxval=spacing)
        picks = jnp.floor(offset + spacing * jnp.arange(extra)).astype(jnp.int32)
        cols = jnp.asarray(centre).at[outside[picks]].set(True)
    return jnp.broadcast_to(cols.astype(jnp.float32)[None, :], (h, w))


# --------------------------------------------------------------------------------------------
# Coil sensitivities
# --------------------------------------------------------------------------------------------


def coil_maps(
    shape: tuple[int, int], num_coils: int, *, width: float = 1.0, radius: float = 1.5
) -> jax.Array:
    """Smooth synthetic coil sensitivities ``(num_coils, H, W)`` complex64, ``sum_c |S_c|^2 = 1``.

    A birdcage-like array: coil ``c`` sits at angle ``theta_c = 2 pi c / num_coils`` on a circle
    of ``radius`` around the image (image = ``[-1, 1]^2``, y up), with Gaussian magnitude
    ``exp(-|r - p_c|^2 / (2 width^2))`` and linear phase ``theta_c + (pi / 2) <r, e_c>``
    (``e_c = (cos theta_c, sin theta_c)``). The maps are then divided by their root-sum-of-squares,
    so the coil-combined sensitivity is 1 at every pixel.

    Example:
        >>> s = coil_maps((16, 16), 4)
        >>> s.shape, bool(jnp.allclose(jnp.sum(jnp.abs(s) ** 2, 0), 1.0, atol=1e-5))
        ((4, 16, 16), True)
    """
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape)
        or min(shape) < 1
    ):
        raise ValueError(f"shape: expected (H, W) of positive ints, got {shape!r}")
    num_coils = _check_pos_int("num_coils", num_coils)
    if not (width > 0 and radius >= 0):
        raise ValueError(
            f"width, radius: expected width > 0 and radius >= 0, got {width}, {radius}"
        )
    h, w = int(shape[0]), int(shape[1])
    x = ((2.0 * np.arange(w) + 1.0) / w - 1.0)[None, None, :]
    y = -((2.0 * np.arange(h) + 1.0) / h - 1.0)[None, :, None]
    theta = (2.0 * np.pi * np.arange(num_coils) / num_coils)[:, None, None]
    ex, ey = np.cos(theta), np.sin(theta)
    dist2 = (x - radius * ex) ** 2 + (y - radius * ey) ** 2
    # Subtract the per-pixel minimum before exponentiating: a common factor that cancels in the
    # normalisation and keeps the largest coil at magnitude 1 (no underflow for narrow widths).
    log_mag = -(dist2 - dist2.min(axis=0, keepdims=True)) / (2.0 * width**2)
    maps = np.exp(log_mag + 1j * (theta + 0.5 * np.pi * (x * ex + y * ey)))
    maps /= np.sqrt(np.sum(np.abs(maps) ** 2, axis=0, keepdims=True))
    return jnp.asarray(maps, jnp.complex64)


# --------------------------------------------------------------------------------------------
# Blur kernels
# --------------------------------------------------------------------------------------------


def gaussian_kernel(size: int, sigma: float) -> jax.Array:
    """Isotropic Gaussian blur kernel ``(size, size)`` float32 summing to 1.

    ``k[i, j] = exp(-((i - c)^2 + (j - c)^2) / (2 sigma^2)) / Z`` with ``c = (size - 1) / 2``.

    Example:
        >>> k = gaussian_kernel(5, 1.0)
        >>> k.shape, round(float(k.sum()), 5)
        ((5, 5), 1.0)
    """
    size = _check_pos_int("size", size)
    if not float(sigma) > 0.0:
        raise ValueError(f"sigma: expected a positive number, got {sigma}")
    t = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(t**2) / (2.0 * float(sigma) ** 2))
    k = np.outer(g, g)
    return jnp.asarray(k / k.sum(), jnp.float32)


def motion_kernel(
    key: jax.Array,
    size: int,
    length: float | None = None,
    *,
    num_steps: int = 256,
    anxiety: float = 0.05,
    jump_probability: float = 0.005,
    inertia: float = 0.02,
) -> jax.Array:
    """Random camera-shake blur kernel ``(size, size)`` float32, non-negative, summing to 1.

    A random trajectory in the spirit of Boracchi & Foi (IEEE TIP 2012): a point moves with
    velocity ``v_t`` of fixed speed ``length / num_steps``; each step the direction is perturbed
    by Gaussian noise (``anxiety``), with probability ``jump_probability`` by a large random
    turn, and pulled back towards the start (``inertia``), so the path wanders like a hand
    shake. The path is centred, shrunk if needed to fit in the ``size x size`` support, and its
    positions are splatted bilinearly onto the grid (equal exposure time per step).
    ``length`` is the path length in pixels (default ``size``; the curling path then spans about
    60% of the support on average). Pure JAX: jit and vmap over keys work.

    Example:
        >>> k = motion_kernel(jax.random.key(0), 15)
        >>> k.shape, bool(k.min() >= 0), round(float(k.sum()), 5)
        ((15, 15), True, 1.0)
    """
    size = _check_pos_int("size", size, minimum=3)
    num_steps = _check_pos_int("num_steps", num_steps, minimum=2)
    length = float(size if length is None else length)
    if not length > 0.0:
        raise ValueError(f"length: expected a positive number, got {length}")
    if not (anxiety >= 0 and inertia >= 0):
        raise ValueError(f"anxiety, inertia: expected >= 0, got {anxiety}, {inertia}")
    jump_probability = _check_fraction("jump_probability", jump_probability)
    return _motion_kernel(key, length, anxiety, jump_probability, inertia, size, num_steps)


@functools.partial(jax.jit, static_argnums=(5, 6))
def _motion_kernel(key, length, anxiety, jump_probability, inertia, size, num_steps):
    speed = length / num_steps
    k0, kn, kj, ka = jax.random.split(key, 4)
    angle0 = jax.random.uniform(k0, (), maxval=2.0 * jnp.pi)
    noise = jax.random.normal(kn, (num_steps, 2))
    jumps = jax.random.bernoulli(kj, jump_probability, (num_steps,))
    jump_angle = jax.random.uniform(ka, (num_steps,), minval=0.5 * jnp.pi, maxval=1.5 * jnp.pi)

    def step(carry, inputs):
        pos, vel = carry
        eps, jump, turn = inputs
        vel = vel + anxiety * speed * eps - inertia * pos / num_steps
        c, s = jnp.cos(turn), jnp.sin(turn)
        rotated = jnp.stack([c * vel[0] - s * vel[1], s * vel[0] + c * vel[1]])
        vel = jnp.where(jump, rotated, vel)
        vel = speed * vel / jnp.maximum(jnp.linalg.norm(vel), 1e-12)
        pos = pos + vel
        return (pos, vel), pos

    vel0 = speed * jnp.stack([jnp.cos(angle0), jnp.sin(angle0)])
    _, path = jax.lax.scan(step, (jnp.zeros(2), vel0), (noise, jumps, jump_angle))
    path = jnp.concatenate([jnp.zeros((1, 2)), path], axis=0)

    lo, hi = jnp.min(path, axis=0), jnp.max(path, axis=0)
    extent = jnp.max(hi - lo)
    scale = jnp.minimum(1.0, (size - 1.001) / jnp.maximum(extent, 1e-12))
    path = (path - 0.5 * (lo + hi)) * scale + (size - 1) / 2.0

    i0 = jnp.clip(jnp.floor(path).astype(jnp.int32), 0, size - 2)
    frac = path - i0
    kernel = jnp.zeros((size, size), jnp.float32)
    for di in (0, 1):
        for dj in (0, 1):
            wgt = (frac[:, 0] if di else 1 - frac[:, 0]) * (frac[:, 1] if dj else 1 - frac[:, 1])
            kernel = kernel.at[i0[:, 0] + di, i0[:, 1] + dj].add(wgt)
    return kernel / jnp.sum(kernel)
