"""jaxdip: reconstruction with untrained neural-network priors (Deep Image Prior and cousins) in JAX.

Submodules: ``operators`` (forward models), ``data``, ``noise``, ``models`` (generators),
``losses``, ``fit`` (the engine: ``fit.fit``, ``fit.init``/``step``/``run``), ``stopping``,
``ensemble``, ``spectral``, ``metrics``, ``plot``, ``tasks``.
"""

__version__ = "0.1.0"

from jaxdip import data, ensemble, fit, losses, metrics, models, noise, operators  # noqa: E402

__all__ = ["data", "ensemble", "fit", "losses", "metrics", "models", "noise", "operators",
           "__version__"]
