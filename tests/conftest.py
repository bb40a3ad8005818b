"""Test-session setup: make XLA compile fast, since the suite is bound by compile time.

The fitting loop of a 32x32, 2-scale, width-4 skip net compiles ~260 CPU kernels (9-10 s on the
2-core CI machine) and runs for milliseconds, so this conftest, imported by the pytest controller
before it starts the xdist workers (which, like the CLI and bench scripts run as subprocesses and
the notebooks' kernels, inherit its environment), sets two things unless they are already set:

* ``XLA_FLAGS=--xla_backend_optimization_level=0``: LLVM does not optimise the kernels. The
  arithmetic is the same (no fast-math either way); a 2-scale CLI fit compiles in 16 instead of
  28 s.
* ``JAX_COMPILATION_CACHE_DIR``: a fresh temporary directory, removed at the end of the run, shared
  by all those processes, for the programs that come back in several of them (about 10% of the
  suite's time). Entries are keyed by HLO, options and versions, so a hit runs what a compile would.
"""

import os
import shutil
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWN_CACHE:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxdip-tests-xla-cache-")
    # Cache programs that took >= 0.2 s to compile (JAX's default is 1 s).
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")


def pytest_unconfigure(config):
    if _OWN_CACHE and not hasattr(config, "workerinput"):  # the controller, after the workers
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
