"""XLA compiler options jaxdip compiles its fitting loops with, and a ``jax.jit`` that applies them.

On CPU, XLA (jaxlib 0.10) hands matrix products and reductions to the YNNPACK library. For the
tall-and-skinny products of jaxdip's convolutions, ``(H W, 3 C) @ (3 C, 3 C)`` with ``H W`` in the
tens of thousands, YNNPACK reaches about 170-210 GFLOP/s on a 2-core AVX-512 machine where XLA's
Eigen kernels reach 250-265; for reductions (the normalisation statistics) YNNPACK is the faster.
:func:`compiler_options` therefore keeps YNNPACK for reductions only
(``xla_cpu_experimental_ynn_fusion_type = LIBRARY_FUSION_TYPE_REDUCE``). Measured with
``bench/step_time.py`` on that machine: a ConvDecoder step at 256x256 1.44 s -> 1.22 s, the DIP skip
net 0.93 s -> 0.85-0.88 s.

XLA:CPU's older fusion emitters (``xla_cpu_use_fusion_emitters = false``) write the same
elementwise and reduction kernels with less compile work than jaxlib 0.10's MLIR emitters, and
leave less compiled state resident. On a 2-core AMD EPYC, DIP skip net at 256x256, a 5-step
``lax.scan`` of Adam steps: XLA compile 12.7-13.3 -> 9.5-10.4 s, 70 MB less resident after
compiling, step time unchanged. Fits compiled with them reach the same quality: single
trajectories differ by float rounding either way, which in a fit with Adam's loss spikes can move
one seed's final PSNR by several dB (``bench/README.md``, "Fusion emitters").

XLA's copy insertion decides which values of a ``while`` loop's state need a copy in each iteration
(the old value still read after the new one is written). Without its region analysis, which
``xla_cpu_copy_insertion_use_region_analysis = true`` turns on, it kept a copy of the parameters, of both of
Adam's moments and of the last finite parameters for the whole of a step, backward pass included:
DIP skip net at 128x128, XLA temporaries 165 -> 147 MB (one copy left, made at the step's end), at
256x256 495 -> 494 MB (the peak lies where those copies are not), ConvDecoder at 128x128 226 ->
220 MB; step and compile times unchanged.

The options apply per compiled program (``jax.jit(..., compiler_options=...)``), so nothing else in
the process changes. Each one is probed once with a tiny compile and dropped if this jaxlib rejects
it; ``JAXDIP_XLA_OPTIONS=0`` in the environment turns them all off. Other backends get ``{}``.

Example:
    >>> import jax
    >>> from jaxdip.xla_options import compiler_options
    >>> f = jax.jit(lambda x: x @ x.T, compiler_options=compiler_options())  # your own jitted code
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp

__all__ = ["compiler_options", "jit"]

_CPU_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_REDUCE",
    "xla_cpu_use_fusion_emitters": False,
    "xla_cpu_copy_insertion_use_region_analysis": True,
}
# For programs that run once: LLVM does not optimise the kernels (no fast-math either way; results
# can differ from an optimised build in the last bit, where one contracts a * b + c and one not).
_FAST_COMPILE_OPTIONS = {"xla_backend_optimization_level": 0}


@functools.cache
def compiler_options(fast_compile: bool = False) -> dict[str, Any]:
    """The options for the default backend: ``{}`` off CPU or with ``JAXDIP_XLA_OPTIONS=0``; on
    CPU, those of :data:`_CPU_OPTIONS` that this jaxlib accepts.

    ``fast_compile=True`` adds ``xla_backend_optimization_level=0`` for a program that runs once,
    where compiling is nearly all its cost: building a fit's initial state (the default skip net's
    random initialisation is ~900 kernels) compiles several times faster and runs a little slower.
    """
    if os.environ.get("JAXDIP_XLA_OPTIONS", "1") == "0" or jax.default_backend() != "cpu":
        return {}
    options = {**_CPU_OPTIONS, **(_FAST_COMPILE_OPTIONS if fast_compile else {})}
    if _accepted(tuple(options.items())):  # one probe compile where this jaxlib takes them all
        return options
    return {k: v for k, v in options.items() if _accepted(((k, v),))}


@functools.cache
def _accepted(options: tuple[tuple[str, Any], ...]) -> bool:
    """Whether a tiny program compiles with ``options`` (pairs of name and value)."""
    x = jax.ShapeDtypeStruct((4,), jnp.float32)
    try:
        jax.jit(lambda x: jnp.sum(x), compiler_options=dict(options)).lower(x).compile()
    except Exception:  # an XLA without one of these options
        return False
    return True


def jit(fun: Callable, *, fast_compile: bool = False, **jit_kwargs: Any) -> "_LazyJit":
    """``jax.jit(fun, compiler_options=compiler_options(fast_compile), **jit_kwargs)``, built at
    the first use.

    Deferring the build keeps ``import jaxdip`` from starting a JAX backend (the backend decides the
    options). The result is called like the jitted function; its other attributes (``lower``,
    ``trace``, ...) are the jitted function's.
    """
    return _LazyJit(fun, fast_compile, jit_kwargs)


class _LazyJit:
    def __init__(self, fun: Callable, fast_compile: bool, jit_kwargs: dict[str, Any]):
        functools.update_wrapper(self, fun)
        self._fun, self._fast_compile, self._jit_kwargs = fun, fast_compile, jit_kwargs
        self._jitted = None

    def _get(self) -> Callable:
        if self._jitted is None:
            options = compiler_options(self._fast_compile)
            self._jitted = jax.jit(self._fun, compiler_options=options, **self._jit_kwargs)
        return self._jitted

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)

    def __getattr__(self, name: str):
        # Only reached for attributes this object lacks; never for its own (e.g. while unpickling).
        if name in ("_fun", "_fast_compile", "_jit_kwargs", "_jitted") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._get(), name)
