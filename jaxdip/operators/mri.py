"""Cartesian MRI: undersampled k-space with optional coil sensitivities.

Forward model (SENSE, Pruessmann et al. 1999; the setting of ConvDecoder, Darestani & Heckel 2021):

    y_c = M * F(S_c x),   c = 1..coils,

with ``F`` the centred orthonormal 2-D DFT ``F = fftshift(fft2(ifftshift(.), norm='ortho'))``
(k-space centre at index ``(H // 2, W // 2)``), ``S_c`` the coil sensitivity maps and ``M`` the
sampling mask.
Axis 0 (rows) is the read-out (frequency-encode) direction and axis 1 (columns) the phase-encode
direction: a 1-D line mask of length ``W`` selects k-space columns and is broadcast over the rows
(the fastMRI convention).
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np

from jaxdip.operators.base import (
    LinearOperator,
    check_finite,
    operator_dataclass,
    static_field,
)

__all__ = ["MRI", "fft2c", "ifft2c", "rss"]


def fft2c(x: jax.Array) -> jax.Array:
    """Centred orthonormal 2-D DFT over the last two axes: ``fftshift(fft2(ifftshift(x)))``.

    Example:
        >>> import jax.numpy as jnp
        >>> float(abs(fft2c(jnp.ones((4, 4), jnp.complex64))[2, 2]))
        4.0
    """
    axes = (-2, -1)
    x = jnp.fft.ifftshift(x, axes=axes)
    return jnp.fft.fftshift(jnp.fft.fft2(x, axes=axes, norm="ortho"), axes=axes)


def ifft2c(k: jax.Array) -> jax.Array:
    """Inverse of :func:`fft2c` (also its adjoint: the transform is unitary)."""
    axes = (-2, -1)
    k = jnp.fft.ifftshift(k, axes=axes)
    return jnp.fft.fftshift(jnp.fft.ifft2(k, axes=axes, norm="ortho"), axes=axes)


def rss(images: jax.Array, axis: int = 0) -> jax.Array:
    """Root-sum-of-squares coil combination ``sqrt(sum_c |x_c|^2)`` over ``axis`` (real output).

    Example:
        >>> import jax.numpy as jnp
        >>> float(rss(jnp.array([3.0, 4.0j])))
        5.0
    """
    return jnp.sqrt(jnp.sum(jnp.abs(images) ** 2, axis=axis))


@operator_dataclass
class MRI(LinearOperator):
    """Cartesian (multi-coil) MRI sampling ``y_c = M * F(S_c x)`` of a complex image ``x (H, W)``.

    Args:
        mask: sampling mask, real, ``(H, W)`` or a line mask ``(W,)`` over the phase-encode axis
            (columns, axis 1) broadcast over the rows. Usually 0/1, non-negative weights work too.
            Stored as float32 ``(H, W)``.
        coil_maps: optional complex coil sensitivities ``(coils, H, W)``. Without them the operator
            is single-coil: ``(H, W) -> (H, W)``; with them ``(H, W) -> (coils, H, W)``.
        shape: image shape ``(H, W)``; needed only for a line mask without coil maps (otherwise
            it is read from the mask or the maps).

    The adjoint is ``A^H y = sum_c conj(S_c) F^H(M y_c)``; with maps normalised so that
    ``sum_c |S_c|^2 = 1`` and a full mask, ``A^H A = I``.

    Example:
        >>> import jax.numpy as jnp
        >>> A = MRI(jnp.array([1.0, 0.0, 1.0, 0.0]), shape=(4, 4))
        >>> A(jnp.ones((4, 4), jnp.complex64)).shape
        (4, 4)
    """

    mask: jax.Array
    coil_maps: jax.Array | None = None
    shape: tuple[int, int] | None = static_field(default=None)

    def __post_init__(self) -> None:
        mask, maps, shape = self.mask, self.coil_maps, self.shape
        if mask is None or isinstance(mask, (str, bytes)):
            raise TypeError(f"MRI: mask expected a real array, got {type(mask).__name__}")
        mask_arr = mask if isinstance(mask, jax.Array) else np.asarray(mask)
        if jnp.issubdtype(mask_arr.dtype, jnp.complexfloating):
            raise TypeError(f"MRI: mask expected real values, got dtype {mask_arr.dtype}")
        if not (
            jnp.issubdtype(mask_arr.dtype, jnp.floating)
            or jnp.issubdtype(mask_arr.dtype, jnp.integer)
            or mask_arr.dtype == bool
        ):
            raise TypeError(f"MRI: mask expected a real numeric array, got dtype {mask_arr.dtype}")
        if maps is not None:
            maps = maps if isinstance(maps, jax.Array) else np.asarray(maps)
            if not jnp.issubdtype(maps.dtype, jnp.number):
                raise TypeError(f"MRI: coil_maps expected a complex array, got dtype {maps.dtype}")

        if shape is None:
            # Direct construction: infer the image shape, no batch axes allowed.
            if maps is not None:
                if maps.ndim != 3:
                    raise ValueError(
                        f"MRI: coil_maps expected shape (coils, H, W), got {tuple(maps.shape)}"
                    )
                shape = tuple(maps.shape[1:])
            elif mask_arr.ndim == 2:
                shape = tuple(mask_arr.shape)
            elif mask_arr.ndim == 1:
                raise ValueError(
                    "MRI: shape expected (H, W) when mask is a line mask of shape "
                    f"{tuple(mask_arr.shape)} and coil_maps is None, got None"
                )
            if mask_arr.ndim not in (1, 2):
                raise ValueError(
                    f"MRI: mask expected shape (H, W) or (W,), got {tuple(mask_arr.shape)}"
                )
        try:
            shape = tuple(operator.index(s) for s in shape)
        except TypeError:
            shape = ()
        if len(shape) != 2 or min(shape) <= 0:
            raise ValueError(f"MRI: shape expected (H, W) with positive ints, got {self.shape!r}")
        # Rebuilt operators (jax.vmap outputs) may carry leading batch axes; check trailing axes.
        if mask_arr.ndim == 1:
            if tuple(mask_arr.shape) != shape[1:]:
                raise ValueError(
                    f"MRI: mask expected a line mask of shape {shape[1:]}, "
                    f"got {tuple(mask_arr.shape)}"
                )
        elif tuple(mask_arr.shape[-2:]) != shape:
            raise ValueError(
                f"MRI: mask expected shape {shape} or {shape[1:]}, got {tuple(mask_arr.shape)}"
            )
        if maps is not None and (maps.ndim < 3 or tuple(maps.shape[-2:]) != shape):
            raise ValueError(
                f"MRI: coil_maps expected shape (coils, {shape[0]}, {shape[1]}), "
                f"got {tuple(maps.shape)}"
            )
        check_finite("MRI: mask", mask_arr)
        if maps is not None:
            check_finite("MRI: coil_maps", maps)

        mask_arr = jnp.asarray(mask_arr, jnp.float32)
        if mask_arr.ndim == 1:
            mask_arr = jnp.broadcast_to(mask_arr, shape)
        object.__setattr__(self, "mask", mask_arr)
        if maps is not None:
            object.__setattr__(self, "coil_maps", jnp.asarray(maps, jnp.complex64))
        object.__setattr__(self, "shape", shape)

    @property
    def n_coils(self) -> int | None:
        """Number of coils, ``None`` for the single-coil operator."""
        return None if self.coil_maps is None else int(self.coil_maps.shape[-3])

    @property
    def in_shape(self):
        return self.shape

    @property
    def out_shape(self):
        return self.shape if self.coil_maps is None else (self.n_coils, *self.shape)

    @property
    def in_dtype(self):
        return jnp.dtype(jnp.complex64)

    @property
    def out_dtype(self):
        return jnp.dtype(jnp.complex64)

    def apply(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x, jnp.complex64)
        if self.coil_maps is not None:
            x = self.coil_maps * x
        return self.mask * fft2c(x)

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != self.out_shape:
            raise ValueError(
                f"MRI.adjoint: y expected shape {self.out_shape}, got {tuple(jnp.shape(y))}"
            )
        images = ifft2c(self.mask * jnp.asarray(y, jnp.complex64))
        if self.coil_maps is None:
            return images
        return jnp.sum(jnp.conj(self.coil_maps) * images, axis=0)

    def zero_filled(self, y: jax.Array) -> jax.Array:
        """Zero-filled images ``F^H(M y_c)`` per coil (same shape as ``y``, complex64).

        Combine coils with :func:`rss` (magnitude) or use :meth:`adjoint` (coil-map weighted sum).
        """
        if tuple(jnp.shape(y)) != self.out_shape:
            raise ValueError(
                f"MRI.zero_filled: y expected shape {self.out_shape}, got {tuple(jnp.shape(y))}"
            )
        return ifft2c(self.mask * jnp.asarray(y, jnp.complex64))
