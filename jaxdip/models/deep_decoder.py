"""Deep Decoder (Heckel & Hand, ICLR 2019): an under-parameterised image generator.

With ``k`` channels and ``d`` blocks, from a fixed code ``z (H / 2^(d-1), W / 2^(d-1), k)``::

    x_{b+1} = norm(relu(up2(conv_1x1(x_b))))     b = 0 .. d-2   (conv without bias)
    x_d     = norm(relu(conv_1x1(x_{d-1})))                     (last block: no upsampling)
    G(z)    = sigmoid(conv_1x1(x_d))                            (head without bias)

``norm`` is per-channel normalisation over space with learned scale and shift, ``up2`` bilinear x2
(PyTorch ``align_corners=False``). Parameters: ``d k^2 + 2 d k + k C_out`` (k = 64: 25,536;
k = 128: 100,224 for 3 outputs).

Example:
    >>> import jax
    >>> from flax import nnx
    >>> net = DeepDecoder(channels=16, num_blocks=3, rngs=nnx.Rngs(0))
    >>> net.input_shape((32, 32))
    (8, 8, 16)
    >>> net(net.make_input(jax.random.key(1), (32, 32))).shape
    (32, 32, 3)
"""

from __future__ import annotations

import jax
from flax import nnx

from jaxdip.models.codes import check_hw, uniform_noise
from jaxdip.models.layers import (
    OUTPUTS,
    UPSAMPLERS,
    ChannelNorm,
    Conv2d,
    _check_choice,
    _check_positive_int,
    apply_output,
    upsample2x,
)

__all__ = ["DeepDecoder"]


class _Block(nnx.Module):
    def __init__(self, channels: int, rngs: nnx.Rngs):
        self.conv = Conv2d(channels, channels, 1, use_bias=False, rngs=rngs)
        self.norm = ChannelNorm(channels)


class DeepDecoder(nnx.Module):
    """Deep Decoder ``(H / 2^(d-1), W / 2^(d-1), k) -> (H, W, out_channels)``.

    Args:
        channels: width ``k`` of every block (and of the input code).
        num_blocks: number of blocks ``d`` (``d - 1`` upsamplings).
        out_channels: image channels.
        upsample: ``'bilinear'`` (reference) or ``'nearest'``.
        output: ``'sigmoid'`` (reference) or ``'none'``.
        rngs: ``nnx.Rngs`` for the PyTorch-default initialisation.
    """

    def __init__(
        self,
        *,
        channels: int = 64,
        num_blocks: int = 6,
        out_channels: int = 3,
        upsample: str = "bilinear",
        output: str = "sigmoid",
        rngs: nnx.Rngs,
    ):
        self.channels = _check_positive_int("channels", channels)
        self.num_blocks = _check_positive_int("num_blocks", num_blocks)
        self.out_channels = _check_positive_int("out_channels", out_channels)
        self.upsample = _check_choice("upsample", upsample, tuple(UPSAMPLERS))
        self.output = _check_choice("output", output, OUTPUTS)
        self.blocks = nnx.List([_Block(self.channels, rngs) for _ in range(self.num_blocks)])
        self.head = Conv2d(self.channels, self.out_channels, 1, use_bias=False, rngs=rngs)

    def input_shape(self, out_hw: tuple[int, int]) -> tuple[int, int, int]:
        """``(H / f, W / f, channels)``, ``f = 2**(num_blocks - 1)`` must divide H and W."""
        h, w = check_hw("out_hw", out_hw)
        f = 2 ** (self.num_blocks - 1)
        if h % f or w % f:
            raise ValueError(
                f"out_hw: expected sizes divisible by 2**(num_blocks - 1) = {f}, got {(h, w)}"
            )
        return (h // f, w // f, self.channels)

    def make_input(self, key: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
        """The reference code ``z ~ U(0, 0.1)`` of shape :meth:`input_shape`."""
        return uniform_noise(key, self.input_shape(out_hw), 0.1)

    def __call__(self, z: jax.Array) -> jax.Array:
        if z.ndim != 3 or z.shape[-1] != self.channels:
            raise ValueError(f"z: expected shape (h, w, {self.channels}), got {tuple(z.shape)}")
        x = z
        # The ReLU inside the upsampling or the convolution: their banded CPU forms never hold
        # the pre-activation whole, so the backward pass does not keep it (layers.upsample2x).
        for b, block in enumerate(self.blocks):
            if b + 1 < self.num_blocks:
                x = upsample2x(block.conv(x), self.upsample, activation="relu")
            else:
                x = block.conv(x, activation="relu")
            x = block.norm(x)
        return apply_output(self.head(x), self.output)
