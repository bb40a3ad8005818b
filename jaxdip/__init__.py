"""jaxdip: reconstruction with untrained neural-network priors (Deep Image Prior and cousins) in JAX."""

__version__ = "0.1.0"
