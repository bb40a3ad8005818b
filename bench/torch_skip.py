"""PyTorch port of the Deep Image Prior "skip" network, the reference for bench/step_time.py.

Written from REFERENCE.md section 1 (Ulyanov, Vedaldi, Lempitsky, CVPR 2018), NCHW, one image.
For scale i = 0 (finest) .. S-1 with input x_i::

    skip_i   = act(bn(conv1x1(pad(x_i))))                       (absent when ns[i] = 0)
    down_i   = act(bn(conv_k(pad(act(bn(conv_k_s2(pad(x_i))))))))
    deeper_i = up2(scale_{i+1}(down_i))   (up2(down_i) at the deepest scale)
    scale_i  = act(bn(conv1x1(act(bn(conv_k(pad(bn(cat(skip_i, deeper_i)))))))))
    G(z)     = sigmoid(conv1x1(scale_0(z)))

pad = ReflectionPad2d((k - 1) // 2), bn = BatchNorm2d in training mode (batch 1, eps 1e-5),
act = LeakyReLU(0.2), up2 = bilinear x2 with align_corners=False. PyTorch default init.
The default configuration has 2,217,831 parameters, the same as ``jaxdip.models.skip.Skip``.

Example:
    >>> net = skip_net()
    >>> sum(p.numel() for p in net.parameters())
    2217831
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["skip_net", "TorchSkip", "TorchDeepDecoder"]


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d((k - 1) // 2), nn.Conv2d(cin, cout, k, stride))


class _Scale(nn.Module):
    def __init__(self, cin, nd, nu, ns, deeper_ch, k_d, k_u, k_s, inner):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.skip = (
            nn.Sequential(_conv(cin, ns, k_s), nn.BatchNorm2d(ns), act()) if ns > 0 else None
        )
        self.down = nn.Sequential(
            _conv(cin, nd, k_d, 2), nn.BatchNorm2d(nd), act(),
            _conv(nd, nd, k_d), nn.BatchNorm2d(nd), act(),
        )
        self.inner = inner
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.up = nn.Sequential(
            nn.BatchNorm2d(ns + deeper_ch),
            _conv(ns + deeper_ch, nu, k_u), nn.BatchNorm2d(nu), act(),
            _conv(nu, nu, 1), nn.BatchNorm2d(nu), act(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.down(x)
        if self.inner is not None:
            d = self.inner(d)
        d = self.up2(d)
        h, w = x.shape[2:]
        top, left = (d.shape[2] - h) // 2, (d.shape[3] - w) // 2
        d = d[:, :, top : top + h, left : left + w]
        if self.skip is not None:
            d = torch.cat([self.skip(x), d], dim=1)
        return self.up(d)


class TorchSkip(nn.Module):
    """The DIP skip net; ``forward(z)`` with ``z`` of shape ``(1, in_channels, H, W)``."""

    def __init__(
        self,
        in_channels: int = 32,
        out_channels: int = 3,
        channels_down=(128,) * 5,
        channels_up=(128,) * 5,
        channels_skip=(4,) * 5,
        kernel_down: int = 3,
        kernel_up: int = 3,
        kernel_skip: int = 1,
    ):
        super().__init__()
        n = len(channels_down)
        cins = [in_channels, *channels_down[:-1]]
        inner = None
        for i in reversed(range(n)):
            deeper_ch = channels_up[i + 1] if i + 1 < n else channels_down[i]
            inner = _Scale(
                cins[i], channels_down[i], channels_up[i], channels_skip[i], deeper_ch,
                kernel_down, kernel_up, kernel_skip, inner,
            )
        self.body = inner
        self.head = _conv(channels_up[0], out_channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.body(z)))


def skip_net(**kwargs) -> TorchSkip:
    """``TorchSkip`` in training mode (BatchNorm uses the statistics of the current image)."""
    return TorchSkip(**kwargs).train()


class TorchDeepDecoder(nn.Module):
    """Deep Decoder (Heckel & Hand 2019, REFERENCE.md section 2), ``z (1, k, H/2^(d-1), W/2^(d-1))``.

    d blocks of [1x1 conv without bias -> bilinear x2 (not in the last) -> ReLU -> BatchNorm2d],
    head 1x1 conv without bias -> sigmoid.
    """

    def __init__(self, channels: int = 64, num_blocks: int = 6, out_channels: int = 3):
        super().__init__()
        layers = []
        for b in range(num_blocks):
            layers.append(nn.Conv2d(channels, channels, 1, bias=False))
            if b + 1 < num_blocks:
                layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            layers += [nn.ReLU(), nn.BatchNorm2d(channels)]
        layers += [nn.Conv2d(channels, out_channels, 1, bias=False), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
