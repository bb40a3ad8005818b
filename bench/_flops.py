"""Matrix-product FLOPs of a traced JAX program, and GPU peak rates to compare them with.

:func:`matmul_flops` counts ``2 x`` the multiply-adds of every ``dot_general`` and
``conv_general_dilated`` in a jaxpr, sub-programs included (a ``scan`` body times its length, the
larger branch of a ``cond``); element-wise work is not counted, so the rate it gives is the one that
is compared with a GPU's or CPU's matrix peak. ``dot_general``: ``2 x (output elements) x
(contracted size)``. Convolution: ``2 x (output elements) x (kernel window x input features per
group)``, divided by the product of the ``lhs_dilation`` factors: a strided convolution's input
gradient interleaves that many zeros, which are not counted (its border rows make this a slight
over-count). On CPU jaxdip's convolutions are matrix products with no zero taps (``jaxdip.conv``;
``2 / H`` more rows than the output needs), on GPU XLA convolutions.

:data:`GPU_PEAK_TFLOPS`: vendor datasheet peaks, dense (no structured sparsity), in TFLOP/s.

Example:
    >>> import jax, jax.numpy as jnp
    >>> jaxpr = jax.make_jaxpr(jnp.dot)(jnp.zeros((4, 3)), jnp.zeros((3, 5))).jaxpr
    >>> matmul_flops(jaxpr)
    120
"""

from __future__ import annotations

import math

# NVIDIA datasheets (H100 / H200 SXM: "FP32 67 TFLOPS", "TF32 Tensor Core 989 TFLOPS" with
# sparsity; H100 PCIe 51 / 756; A100 19.5 / 312 with sparsity); the TF32 figures here are halved to
# the dense rate. Keys are matched as substrings of JAX's or PyTorch's device name.
GPU_PEAK_TFLOPS = {
    "H200": {"fp32": 67.0, "tf32_dense": 494.5},
    "H100 PCIe": {"fp32": 51.0, "tf32_dense": 378.0},
    "H100": {"fp32": 67.0, "tf32_dense": 494.5},
    "A100": {"fp32": 19.5, "tf32_dense": 156.0},
}


def gpu_peak_tflops(device_name: str) -> dict | None:
    """The :data:`GPU_PEAK_TFLOPS` entry whose key is in ``device_name`` (the longest such key),
    with the key as ``"gpu"``; None for a device not in the table."""
    keys = [k for k in GPU_PEAK_TFLOPS if k in device_name]
    if not keys:
        return None
    key = max(keys, key=len)
    return {"gpu": key, **GPU_PEAK_TFLOPS[key]}


def matmul_flops(jaxpr) -> int:
    """``2 x`` the multiply-adds of the products and convolutions in ``jaxpr`` (a ``core.Jaxpr``;
    a ``ClosedJaxpr`` is unwrapped), see the module docstring. Products that no output depends on
    are not counted: XLA removes them (e.g. the primal products inside a custom JVP's
    ``jax.jvp`` whose primal output is unused, ``jaxdip.conv._activated_bands``)."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    return _count(_live(jaxpr))


def _live(jaxpr):
    """``jaxpr`` without the equations no output depends on (JAX's own dead-code elimination,
    which also prunes the unused outputs of ``scan``, ``cond`` and ``jit`` sub-programs)."""
    from jax._src.interpreters import partial_eval as pe  # no public API for it in JAX 0.10

    return pe.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))[0]


def _count(jaxpr) -> int:
    from jax.extend.core import jaxprs_in_params

    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            out = eqn.outvars[0].aval.shape
            total += 2 * math.prod(out) * math.prod(lhs[d] for d in lhs_contract)
        elif name == "conv_general_dilated":
            rhs = eqn.invars[1].aval.shape
            out = eqn.outvars[0].aval.shape
            window = math.prod(rhs[d] for d in eqn.params["dimension_numbers"].rhs_spec[1:])
            zeros = math.prod(eqn.params["lhs_dilation"])
            total += 2 * math.prod(out) * window // zeros
        else:
            subs = list(jaxprs_in_params(eqn.params))
            if not subs:
                continue
            counts = [_count(j) for j in subs]
            if name == "cond":
                total += max(counts)
            elif name == "scan":
                total += eqn.params["length"] * sum(counts)
            else:  # jit, custom_jvp_call, remat, ...: the sub-program runs once
                total += sum(counts)
    return total
