"""The deepinv side of ``step_time.py``: deepinv's ConvDecoder fitted by its DeepImagePrior loop.

Runs in an interpreter with torch, numpy and deepinv, and without jax or jaxdip (``step_time.py
--deepinv-python``). From ``step_time.py`` it imports only standard-library/numpy helpers, so the
input code, the target, the core pinning and the memory measurement are the same as for the other
frameworks.

The network is ``deepinv.models.ConvDecoder(img_size=(2, H, W), in_size=(8, 4), layers=8,
channels=160)``: jaxdip's ConvDecoder defaults, and the same architecture (nearest resize to the
same geometric sizes, zero-padded 3x3 conv, ReLU, BatchNorm2d in training mode, full-size block, 1x1
head); its parameter count goes into the output for step_time.py to check against jaxdip's.

What is timed is deepinv's user-facing path, not a hand-written loop: one call of
``DeepImagePrior(net, img_size=(160, 8, 4), iterations=1 + warmup + repeats, learning_rate=0.01)``
on ``(y, deepinv.physics.Denoising())``. Each iteration is: generator forward, ``MCLoss``
(``MSELoss`` of ``physics.A(x)`` against ``y``; Denoising's ``A`` is the identity, applied as a
product with a unit mask), ``zero_grad``, backward, Adam step. A forward pre-hook on the generator
stamps the start of every iteration, so a step's time is the interval from one generator forward
to the next (loop overhead included); the last interval ends at the extra forward DeepImagePrior
makes to return its output. The first step runs from the call to the start of the second iteration
(DeepImagePrior's setup of the code and of Adam included). The same hook feeds the generator the
shared ``_data`` code (``U(0, 1)``, as in jaxdip) in place of DeepImagePrior's own ``N(0, 1)`` draw
(same shape, so the same work), and resets the RSS high-water mark after the first step. With
``--device gpu`` the network, code and target live on the first CUDA device, and the hook waits for
the GPU's queued work before it stamps (``step_time.TorchDevice``).

Usage (normally run by step_time.py)::

    path/to/venv-deepinv/bin/python bench/deepinv_worker.py conv_decoder 64 --warmup 0 --repeats 1
    path/to/venv-deepinv/bin/python bench/deepinv_worker.py --probe   # versions as JSON, or fail
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_time import (  # noqa: E402
    CONV_DECODER, DEEPINV_MODELS, DEVICES, Memory, TorchDevice, _data, _pin,
)


def probe() -> dict:
    """Versions of deepinv and torch here; raises ImportError where deepinv is missing."""
    import deepinv
    import torch

    for name in ("models.ConvDecoder", "models.DeepImagePrior", "physics.Denoising"):
        module, attr = name.split(".")
        getattr(getattr(deepinv, module), attr)
    return {"deepinv": deepinv.__version__, "torch": torch.__version__,
            "python": platform.python_version()}


def worker_deepinv(model: str, size: int, warmup: int, repeats: int, threads: int,
                   device: str = "cpu") -> dict:
    if model not in DEEPINV_MODELS:
        raise ValueError(f"deepinv is compared on {DEEPINV_MODELS} only, got {model!r}")
    import deepinv
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = TorchDevice(torch, device)
    h0, w0 = CONV_DECODER["in_hw"]
    channels, out_channels = CONV_DECODER["channels"], CONV_DECODER["out_channels"]
    net = deepinv.models.ConvDecoder(
        img_size=(out_channels, size, size), in_size=(h0, w0),
        layers=CONV_DECODER["num_layers"], channels=channels,
    ).to(dev.device)
    z, y = (torch.from_numpy(a).permute(2, 0, 1)[None].contiguous().to(dev.device)
            for a in _data(model, size))
    physics = deepinv.physics.Denoising()
    n = 1 + warmup + repeats
    dip = deepinv.models.DeepImagePrior(
        net, img_size=(channels, h0, w0), iterations=n, learning_rate=0.01
    )

    mem = Memory()
    stamps, losses = [], []

    def before_forward(module, inputs):
        k = len(stamps)  # iteration k starts (k == n: the forward that makes the output)
        dev.sync()
        if k == 1:
            mem.steps_start()
            dev.steps_start()
        stamps.append(time.perf_counter())
        if k == n:
            mem.steps_end()
        if tuple(inputs[0].shape) != tuple(z.shape):
            raise RuntimeError(f"unexpected generator input {tuple(inputs[0].shape)}")
        return (z,)

    hooks = [
        net.register_forward_pre_hook(before_forward),
        dip.loss.register_forward_hook(lambda m, a, out: losses.append(out.detach())),
    ]
    mem.base()
    dev.base()
    t0 = time.perf_counter()
    dip(y, physics)
    for h in hooks:
        h.remove()
    if len(stamps) != n + 1:
        raise RuntimeError(f"expected {n + 1} generator forwards in DeepImagePrior: {len(stamps)}")
    return {
        "times": [b - a for a, b in zip(stamps[1 + warmup : -1], stamps[2 + warmup :])],
        "first_s": stamps[1] - t0,
        "loss": losses[-1].item(),
        "params": sum(p.numel() for p in net.parameters()),
        "deepinv_version": deepinv.__version__,
        "torch_version": torch.__version__,
        **mem.fields(),
        **dev.fields(),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", choices=DEEPINV_MODELS)
    p.add_argument("size", nargs="?", type=int)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.add_argument("--probe", action="store_true", help="print versions as JSON and exit")
    args = p.parse_args(argv)
    if args.probe:
        res = probe()
    else:
        if args.model is None or args.size is None:
            p.error("MODEL and SIZE are required (or --probe)")
        _pin(args.threads)
        res = worker_deepinv(
            args.model, args.size, args.warmup, args.repeats, args.threads, args.device
        )
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
