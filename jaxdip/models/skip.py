"""The Deep Image Prior encoder-decoder "skip" network (Ulyanov, Vedaldi, Lempitsky, CVPR 2018).

For scale ``i = 0`` (finest) .. ``S - 1``, with ``x_i`` the input of scale ``i``::

    skip_i   = act(norm(conv_1x1(x_i)))                                   (absent if ns[i] = 0)
    down_i   = act(norm(conv_kd(act(norm(conv_kd_stride2(x_i))))))         (= x_{i+1})
    deeper_i = up2(scale_{i+1}(down_i))    or up2(down_i) at the deepest scale
    scale_i  = act(norm(conv_1x1(act(norm(conv_ku(norm(concat(skip_i, deeper_i))))))))
    G(z)     = sigmoid(conv_1x1(scale_0(z)))

Every conv is preceded by padding ``(k - 1) // 2`` (reflection by default, stride-2 convs too); norm
is per-channel over space with learned scale/shift; ``act`` is LeakyReLU(0.2). With the defaults
(S = 5, 128 channels, skip 4, 32 input channels, 3 outputs) the network has 2,217,831 parameters.

Example:
    >>> import jax
    >>> from flax import nnx
    >>> net = Skip(channels_down=(8, 8), channels_up=(8, 8), channels_skip=(2, 2),
    ...            rngs=nnx.Rngs(0))
    >>> z = net.make_input(jax.random.key(1), (16, 16))
    >>> net(z).shape
    (16, 16, 3)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jaxdip.models.codes import check_hw, uniform_noise
from jaxdip.models.layers import (
    OUTPUTS,
    PADDINGS,
    UPSAMPLERS,
    ChannelNorm,
    Conv2d,
    _check_choice,
    _check_positive_int,
    apply_output,
    center_crop,
    get_activation,
    upsample2x,
)

__all__ = ["Skip"]


class _Scale(nnx.Module):
    """Layers of one scale of :class:`Skip` (skip branch, down convs, up convs)."""

    def __init__(self, cin, nd, nu, ns, deeper, kd, ku, ks, padding, rngs):
        def conv(a, b, k, stride=1):
            return Conv2d(a, b, k, stride=stride, padding=padding, rngs=rngs)

        self.skip_conv = conv(cin, ns, ks) if ns > 0 else None
        self.skip_norm = ChannelNorm(ns) if ns > 0 else None
        self.down1 = conv(cin, nd, kd, 2)
        self.down1_norm = ChannelNorm(nd)
        self.down2 = conv(nd, nd, kd)
        self.down2_norm = ChannelNorm(nd)
        self.cat_norm = ChannelNorm(ns + deeper)
        self.up = conv(ns + deeper, nu, ku)
        self.up_norm = ChannelNorm(nu)
        self.up1x1 = conv(nu, nu, 1)
        self.up1x1_norm = ChannelNorm(nu)


class Skip(nnx.Module):
    """DIP "skip" encoder-decoder generator ``(H, W, in_channels) -> (H, W, out_channels)``.

    Args:
        in_channels: channels of the input code (32 for noise, 2 for a meshgrid).
        out_channels: image channels.
        channels_down, channels_up, channels_skip: per-scale widths ``nd``, ``nu``, ``ns`` (same
            length S, the number of scales; ``ns[i] = 0`` removes that skip branch).
        kernel_down, kernel_up, kernel_skip: conv kernel sizes.
        upsample: ``'bilinear'`` (PyTorch ``align_corners=False``) or ``'nearest'``.
        activation: a key of :data:`jaxdip.models.layers.ACTIVATIONS` (``'leaky_relu'``: 0.2).
        output: ``'sigmoid'`` or ``'none'``.
        padding: ``'reflect'``, ``'zero'`` or ``'replicate'``.
        rngs: ``nnx.Rngs`` for the PyTorch-default initialisation.

    Output sizes equal input sizes; input sizes must be divisible by ``2**S``
    (:meth:`input_shape` checks; other sizes still run, cropping centrally as the reference does).
    """

    def __init__(
        self,
        *,
        in_channels: int = 32,
        out_channels: int = 3,
        channels_down: tuple[int, ...] = (128,) * 5,
        channels_up: tuple[int, ...] = (128,) * 5,
        channels_skip: tuple[int, ...] = (4,) * 5,
        kernel_down: int = 3,
        kernel_up: int = 3,
        kernel_skip: int = 1,
        upsample: str = "bilinear",
        activation: str = "leaky_relu",
        output: str = "sigmoid",
        padding: str = "reflect",
        rngs: nnx.Rngs,
    ):
        self.in_channels = _check_positive_int("in_channels", in_channels)
        self.out_channels = _check_positive_int("out_channels", out_channels)
        nd = tuple(_check_positive_int("channels_down", c) for c in channels_down)
        nu = tuple(_check_positive_int("channels_up", c) for c in channels_up)
        ns = tuple(_check_positive_int("channels_skip", c, 0) for c in channels_skip)
        if not (len(nd) == len(nu) == len(ns) >= 1):
            raise ValueError(
                "channels_down, channels_up, channels_skip: expected equal non-zero lengths, got "
                f"{len(nd)}, {len(nu)}, {len(ns)}"
            )
        self.upsample = _check_choice("upsample", upsample, tuple(UPSAMPLERS))
        get_activation(activation)
        self.activation = activation
        self.output = _check_choice("output", output, OUTPUTS)
        _check_choice("padding", padding, PADDINGS)
        kd = _check_positive_int("kernel_down", kernel_down)
        ku = _check_positive_int("kernel_up", kernel_up)
        ks = _check_positive_int("kernel_skip", kernel_skip)
        self.num_scales = len(nd)
        scales = []
        cin = self.in_channels
        for i in range(self.num_scales):
            deeper = nu[i + 1] if i + 1 < self.num_scales else nd[i]
            scales.append(_Scale(cin, nd[i], nu[i], ns[i], deeper, kd, ku, ks, padding, rngs))
            cin = nd[i]
        self.scales = nnx.List(scales)
        self.head = Conv2d(nu[0], self.out_channels, 1, padding=padding, rngs=rngs)

    def input_shape(self, out_hw: tuple[int, int]) -> tuple[int, int, int]:
        """``(H, W, in_channels)``; ValueError unless H and W are divisible by ``2**num_scales``."""
        h, w = check_hw("out_hw", out_hw)
        f = 2**self.num_scales
        if h % f or w % f:
            raise ValueError(
                f"out_hw: expected sizes divisible by 2**{self.num_scales} = {f} for "
                f"{self.num_scales} scales, got {(h, w)}"
            )
        return (h, w, self.in_channels)

    def make_input(self, key: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
        """The reference code ``z ~ U(0, 0.1)`` of shape :meth:`input_shape`."""
        return uniform_noise(key, self.input_shape(out_hw), 0.1)

    def _scale(self, i: int, x: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        s = self.scales[i]
        d = act(s.down1_norm(s.down1(x)))
        d = act(s.down2_norm(s.down2(d)))
        if i + 1 < self.num_scales:
            d = self._scale(i + 1, d)
        d = center_crop(upsample2x(d, self.upsample), x.shape[:2])
        if s.skip_conv is not None:
            d = jnp.concatenate([act(s.skip_norm(s.skip_conv(x))), d], axis=-1)
        y = act(s.up_norm(s.up(s.cat_norm(d))))
        return act(s.up1x1_norm(s.up1x1(y)))

    def __call__(self, z: jax.Array) -> jax.Array:
        if z.ndim != 3 or z.shape[-1] != self.in_channels:
            raise ValueError(f"z: expected shape (H, W, {self.in_channels}), got {tuple(z.shape)}")
        return apply_output(self.head(self._scale(0, z)), self.output)
