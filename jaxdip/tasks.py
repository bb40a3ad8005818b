"""Ready-made inverse problems: ground truth, operator, noisy measurement and DIP settings.

One place that turns a task name into a :class:`Problem`, shared by the ``jaxdip`` command, the
notebooks and ``bench/quality.py``. Defaults follow ../shared/REFERENCE.md section 1 (input jitter,
output averaging) scaled down to CPU-sized images.

Example:
    >>> import jax
    >>> p = make_problem("denoise", jax.random.key(0), size=64)  # doctest: +SKIP
    >>> p.operator.in_shape  # doctest: +SKIP
    (64, 64, 3)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip import data, noise
from jaxdip.models import ConvDecoder, DeepDecoder, Skip
from jaxdip.operators.base import Operator

__all__ = ["TASKS", "MODELS", "Problem", "make_problem", "make_model"]

TASKS = ("denoise", "inpaint", "superres", "deblur", "cs", "mri", "ct")
MODELS = ("skip", "deep-decoder", "conv-decoder")


@dataclasses.dataclass
class Problem:
    """A synthetic (or measured) inverse problem ready for :func:`jaxdip.fit.fit`.

    Attributes:
      task: task name; operator: forward model; y: measurement; x_true: ground truth or None;
      out_channels: generator output channels; fit_options: defaults for ``fit`` (input_noise,
      ema, optimizer learning rate...); degraded: an image showing the measurement (for display);
      to_image: maps a generator output to the displayed/evaluated image (e.g. magnitude for MRI);
      description: one line saying how the data was made.
      fit_truth: the ground truth in the generator's output space (for the fit history; for MRI
        the real and imaginary channels), or None.
    """

    task: str
    operator: Operator
    y: jax.Array
    x_true: jax.Array | None
    out_channels: int
    fit_options: dict
    degraded: np.ndarray
    to_image: Callable[[jax.Array], jax.Array]
    description: str
    fit_truth: jax.Array | None = None


def make_model(
    name: str, out_channels: int, width: int = 128, scales: int = 5, out_hw: tuple | None = None
) -> Callable:
    """A model factory ``f(rngs=...) -> nnx.Module`` for :func:`jaxdip.fit.init`.

    ``skip`` is the DIP encoder-decoder with ``scales`` scales of ``width`` channels and 4 skip
    channels; ``deep-decoder`` has 6 blocks of ``width`` channels; ``conv-decoder`` has
    ``width`` channels and needs ``out_hw``.
    """
    if name == "skip":
        return lambda rngs: Skip(
            out_channels=out_channels,
            channels_down=(width,) * scales,
            channels_up=(width,) * scales,
            channels_skip=(4,) * scales,
            rngs=rngs,
        )
    if name == "deep-decoder":
        return lambda rngs: DeepDecoder(out_channels=out_channels, channels=width, rngs=rngs)
    if name == "conv-decoder":
        if out_hw is None:
            raise ValueError("out_hw: the conv-decoder needs the output size (H, W), got None")
        return lambda rngs: ConvDecoder(
            out_hw=tuple(out_hw), out_channels=out_channels, channels=width, rngs=rngs
        )
    raise ValueError(f"model: expected one of {MODELS}, got {name!r}")


def _identity(x):
    return x


def _magnitude(x):
    return jnp.abs(x[..., 0] + 1j * x[..., 1])[..., None]


def _upsample_nearest(y: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(np.asarray(y), factor, 0), factor, 1)


def make_problem(
    task: str,
    key: jax.Array,
    *,
    image: str | np.ndarray | None = None,
    size: int = 128,
    sigma: float | None = None,
    factor: int = 4,
    angles: int = 30,
    acceleration: int = 4,
    keep: float = 0.5,
    ratio: float = 0.25,
    blur_sigma: float = 1.6,
    measurement: np.ndarray | None = None,
) -> Problem:
    """Build the named problem.

    Args:
      task: one of :data:`TASKS`.
      key: PRNG key for the noise, masks and random operators.
      image: a bundled image name, a path, or an (H, W, C) array; default per task.
      size: side length the ground truth is resized to.
      sigma: noise std (data in [0, 1]); default 25/255 for denoising, 0.01 otherwise
        (relative to the measurement's scale for CT and MRI).
      factor: super-resolution factor; angles: CT projection angles over 180 degrees;
      acceleration: MRI undersampling; keep: inpainting fraction of pixels kept; ratio: CS m/n;
      blur_sigma: std in pixels of the Gaussian deblurring kernel.
      measurement: measured data (skips the synthetic degradation; no ground truth).
    """
    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, got {task!r}")
    k_noise, k_op = jax.random.split(key)
    gray_tasks = {"inpaint": False, "cs": True, "mri": True, "ct": True}
    default_images = {
        "denoise": "astronaut",
        "inpaint": "astronaut",
        "superres": "astronaut",
        "deblur": "astronaut",
        "cs": "camera",
        "mri": "shepp_logan",
        "ct": "shepp_logan",
    }
    x_true = None
    if measurement is None:
        name = default_images[task] if image is None else image
        if isinstance(name, str) and name == "shepp_logan":
            x_true = jnp.asarray(data.shepp_logan(size))
        elif isinstance(name, str):
            x_true = jnp.asarray(data.load_image(name, size=size, gray=gray_tasks.get(task, False)))
        else:
            x_true = jnp.asarray(name, jnp.float32)
            if x_true.ndim != 3:
                raise ValueError(f"image: expected an (H, W, C) array, got shape {x_true.shape}")
        shape = tuple(x_true.shape)
    else:
        measurement = jnp.asarray(measurement)
    if sigma is None:
        sigma = 25 / 255 if task == "denoise" else 0.01
    opts: dict[str, Any] = {"input_noise": 1 / 30, "ema": 0.99}
    to_image = _identity

    if task == "denoise":
        from jaxdip.operators.identity import Identity

        shape = shape if measurement is None else tuple(measurement.shape)
        op = Identity(shape)
        y = measurement if measurement is not None else noise.gaussian(k_noise, x_true, sigma)
        degraded = np.clip(np.asarray(y), 0, 1)
        desc = f"Gaussian noise sigma={sigma * 255:.1f}/255"
    elif task == "inpaint":
        from jaxdip.operators.inpainting import Inpainting

        if measurement is not None:
            raise ValueError("measurement: inpainting needs a mask; pass an image instead")
        mask = data.random_pixel_mask(k_op, shape[:2], keep=keep)
        op = Inpainting(mask, channels=shape[2])
        y = op(x_true)
        degraded = np.asarray(y)
        opts = {"input_noise": 0.03, "ema": 0.99}
        desc = f"{keep:.0%} of pixels kept at random"
    elif task == "superres":
        from jaxdip.operators.downsample import Downsample

        if measurement is not None:
            h, w, c = measurement.shape
            shape = (h * factor, w * factor, c)
        op = Downsample(shape, factor, kernel="lanczos2")
        y = measurement if measurement is not None else op(x_true)
        degraded = _upsample_nearest(np.clip(np.asarray(y), 0, 1), factor)
        opts = {"input_noise": 0.03, "ema": 0.99}
        desc = f"x{factor} Lanczos-2 downsampling, no noise"
    elif task == "deblur":
        from jaxdip.operators.blur import Blur

        kernel = data.gaussian_kernel(2 * int(np.ceil(3 * blur_sigma)) + 1, blur_sigma)
        shape = shape if measurement is None else tuple(measurement.shape)
        op = Blur(kernel, shape, boundary="reflect")
        y = measurement if measurement is not None else noise.gaussian(k_noise, op(x_true), sigma)
        degraded = np.clip(np.asarray(y), 0, 1)
        opts = {"input_noise": 0.01, "ema": 0.99}
        desc = f"Gaussian blur sigma={blur_sigma} px + noise sigma={sigma}"
    elif task == "cs":
        from jaxdip.operators.compressed_sensing import StructuredCS

        if measurement is not None:
            raise ValueError("measurement: compressed sensing measurements are not supported yet")
        m = int(round(ratio * np.prod(shape)))
        op = StructuredCS(k_op, shape, m)
        y = noise.gaussian(k_noise, op(x_true), sigma)
        degraded = np.clip(np.asarray(op.adjoint(y)), 0, 1)
        opts = {"input_noise": 0.0, "ema": 0.99}
        desc = f"structured random sensing, m/n={ratio}, noise sigma={sigma}"
    elif task == "mri":
        from jaxdip.operators.complex_channels import ChannelsToComplex
        from jaxdip.operators.mri import MRI

        hw = shape[:2] if measurement is None else tuple(measurement.shape[-2:])
        mask = data.mri_mask(k_op, hw, acceleration=acceleration)
        mri = MRI(mask)
        op = mri @ ChannelsToComplex(hw)
        if measurement is None:
            clean = mri(x_true[..., 0].astype(jnp.complex64))
            scale = float(jnp.sqrt(jnp.mean(jnp.abs(clean) ** 2)))
            y = clean + noise.gaussian(k_noise, jnp.zeros_like(clean), sigma * scale) * mask
        else:
            y = measurement.astype(jnp.complex64)
        degraded = np.clip(np.abs(np.asarray(mri.adjoint(y)))[..., None], 0, 1)
        to_image = _magnitude
        opts = {"input_noise": 0.0, "ema": 0.99}
        desc = f"single-coil Cartesian MRI, {acceleration}x random lines, noise {sigma:.0%} of RMS"
    else:  # ct
        from jaxdip.operators.radon import Radon

        theta = np.linspace(0.0, 180.0, angles, endpoint=False)
        n = size if measurement is None else None
        if measurement is not None:
            n = int(measurement.shape[1])
        op = Radon(n, theta)
        if measurement is None:
            clean = op(x_true)
            scale = float(jnp.sqrt(jnp.mean(clean**2)))
            y = clean + noise.gaussian(k_noise, jnp.zeros_like(clean), sigma * scale)
        else:
            y = measurement
        degraded = np.clip(np.asarray(op.fbp(y)), 0, 1)
        opts = {"input_noise": 0.0, "ema": 0.99}
        desc = f"parallel-beam CT, {angles} angles, noise {sigma:.0%} of RMS"
    out_channels = 2 if task == "mri" else int(op.in_shape[-1])
    fit_truth = x_true
    if task == "mri" and x_true is not None:
        fit_truth = jnp.concatenate([x_true, jnp.zeros_like(x_true)], axis=-1)
    return Problem(
        task=task,
        operator=op,
        y=jnp.asarray(y),
        x_true=x_true,
        out_channels=out_channels,
        fit_options=opts,
        degraded=np.asarray(degraded, np.float32),
        to_image=to_image,
        description=desc,
        fit_truth=fit_truth,
    )
