"""jaxdip: reconstruction with untrained neural-network priors (Deep Image Prior and cousins) in JAX.

Submodules: ``operators`` (forward models), ``data``, ``noise``, ``models`` (generators),
``losses``, ``fit`` (the engine: ``fit.fit``, ``fit.init``/``step``/``run``), ``stopping``,
``ensemble``, ``spectral``, ``metrics``, ``plot``, ``tasks``, ``xla_options`` (the XLA options
jaxdip compiles its loops with; pass ``xla_options.compiler_options()`` to your own ``jax.jit``),
``compile_cache`` (keep compiled programs on disk for later runs: ``compile_cache.enable()``),
``heap`` (give the memory XLA's compiler freed back to the OS: ``heap.release_free_heap()``).
"""

__version__ = "0.1.0"

from jaxdip import (  # noqa: E402
    compile_cache, data, ensemble, fit, heap, losses, metrics, models, noise, operators,
    xla_options,
)

__all__ = ["compile_cache", "data", "ensemble", "fit", "heap", "losses", "metrics", "models",
           "noise", "operators", "xla_options", "__version__"]
