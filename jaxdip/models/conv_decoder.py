"""ConvDecoder (Darestani & Heckel, "Accelerated MRI with un-trained neural networks", 2021).

From a fixed code ``z (h0, w0, C)`` (default ``8 x 4``) to an image of size ``out_hw``::

    x_{l+1} = norm(relu(conv_3x3(resize_nearest(x_l, s_{l+1}))))   l = 0 .. L-2
    x_L     = norm(relu(conv_3x3(x_{L-1})))                         (full size)
    G(z)    = conv_1x1(x_L)                                         (no output non-linearity)

The sizes grow geometrically: with ``r = (H / h0)^(1 / (L - 1))``, ``s_n = ceil(r^n h0)`` for
``n = 1 .. L-2`` and ``s_{L-1} = H`` (same for the width). ``norm`` is per-channel normalisation
over space with learned scale and shift. Parameters: ``L (9 C^2 + C) + 2 L C + C C_out + C_out``
for 3x3 kernels. For MRI the output has ``2 x coils`` channels (real and imaginary parts).

Example:
    >>> import jax
    >>> from flax import nnx
    >>> net = ConvDecoder(out_hw=(32, 16), channels=8, num_layers=4, rngs=nnx.Rngs(0))
    >>> net.hidden_sizes
    ((13, 7), (21, 11), (32, 16))
    >>> net(net.make_input(jax.random.key(1), (32, 16))).shape
    (32, 16, 2)
"""

from __future__ import annotations

import math

import jax
from flax import nnx

from jaxdip.models.codes import check_hw, uniform_noise
from jaxdip.models.layers import (
    OUTPUTS,
    PADDINGS,
    ChannelNorm,
    Conv2d,
    _check_choice,
    _check_positive_int,
    apply_output,
    resize_nearest,
)

__all__ = ["ConvDecoder"]


def _geometric_sizes(in_hw: tuple[int, int], out_hw: tuple[int, int], num_layers: int):
    ratios = [(o / i) ** (1.0 / (num_layers - 1)) for o, i in zip(out_hw, in_hw)]
    inner = [
        tuple(int(math.ceil(r**n * i)) for r, i in zip(ratios, in_hw))
        for n in range(1, num_layers - 1)
    ]
    return tuple(inner) + (tuple(out_hw),)


class _Block(nnx.Module):
    def __init__(self, channels: int, kernel_size: int, padding: str, rngs: nnx.Rngs):
        self.conv = Conv2d(channels, channels, kernel_size, padding=padding, rngs=rngs)
        self.norm = ChannelNorm(channels)

    def __call__(self, x: jax.Array) -> jax.Array:
        # The ReLU inside the convolution: its banded CPU form never holds the pre-activation
        # whole, so the backward pass does not keep it (jaxdip.conv._activated_bands).
        return self.norm(self.conv(x, activation="relu"))


class ConvDecoder(nnx.Module):
    """ConvDecoder ``(in_hw[0], in_hw[1], channels) -> (out_hw[0], out_hw[1], out_channels)``.

    Args:
        out_hw: output size ``(H, W)``; the model is built for this size.
        in_hw: spatial size of the input code (default ``(8, 4)``).
        channels: width ``C`` of every layer and of the input code.
        num_layers: number ``L`` of 3x3 conv blocks (``L - 1`` resizes), at least 2.
        out_channels: output channels (``2 x coils`` for MRI).
        kernel_size: conv kernel size (3 in the reference).
        padding: ``'zero'`` (reference), ``'reflect'`` or ``'replicate'``.
        output: ``'none'`` (reference, MRI) or ``'sigmoid'``.
        rngs: ``nnx.Rngs`` for the PyTorch-default initialisation.
    """

    def __init__(
        self,
        *,
        out_hw: tuple[int, int],
        in_hw: tuple[int, int] = (8, 4),
        channels: int = 160,
        num_layers: int = 8,
        out_channels: int = 2,
        kernel_size: int = 3,
        padding: str = "zero",
        output: str = "none",
        rngs: nnx.Rngs,
    ):
        self.out_hw = check_hw("out_hw", out_hw)
        self.in_hw = check_hw("in_hw", in_hw)
        self.channels = _check_positive_int("channels", channels)
        self.num_layers = _check_positive_int("num_layers", num_layers, 2)
        self.out_channels = _check_positive_int("out_channels", out_channels)
        _check_positive_int("kernel_size", kernel_size)
        _check_choice("padding", padding, PADDINGS)
        self.output = _check_choice("output", output, OUTPUTS)
        self.hidden_sizes = _geometric_sizes(self.in_hw, self.out_hw, self.num_layers)
        self.blocks = nnx.List(
            [_Block(self.channels, kernel_size, padding, rngs) for _ in range(self.num_layers)]
        )
        self.head = Conv2d(self.channels, self.out_channels, 1, padding=padding, rngs=rngs)

    def input_shape(self, out_hw: tuple[int, int]) -> tuple[int, int, int]:
        """``(in_hw[0], in_hw[1], channels)``; ValueError unless ``out_hw`` is the built size."""
        hw = check_hw("out_hw", out_hw)
        if hw != self.out_hw:
            raise ValueError(
                f"out_hw: this ConvDecoder was built for output size {self.out_hw}, got {hw}"
            )
        return (*self.in_hw, self.channels)

    def make_input(self, key: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
        """The reference code ``z ~ U(0, 1)`` of shape :meth:`input_shape`."""
        return uniform_noise(key, self.input_shape(out_hw), 1.0)

    def __call__(self, z: jax.Array) -> jax.Array:
        expected = (*self.in_hw, self.channels)
        if tuple(z.shape) != expected:
            raise ValueError(f"z: expected shape {expected}, got {tuple(z.shape)}")
        x = z
        for size, block in zip(self.hidden_sizes, self.blocks[:-1]):
            x = block(resize_nearest(x, size))
        x = self.blocks[-1](x)
        return apply_output(self.head(x), self.output)
