"""An on-disk cache of compiled programs, so that a fit run again in a new process skips XLA.

JAX can write each compiled program to a directory, keyed by its HLO, the compiler options and the
jax/jaxlib versions, and load it in a later process instead of compiling (JAX's persistent
compilation cache). A hit runs exactly the program a compile would produce. A DIP fit's programs
(its initial state, its fitting loop, its output) are the same for every run with the same model,
image size and options, so from the second run on only tracing is left. Skip net at 256x256 on a
2-core CPU: the fitting loop's XLA compile 5.0 -> 0.4 s, ``fit.init`` (1.8 s) and tracing (1.4 s)
either way; 8.3 -> 3.6 s to the first step (``bench/compile_cache.py``, ``bench/README.md``).

The ``jaxdip`` command turns it on by default (``--compile-cache``, ``--no-compile-cache``). In your
own code, call :func:`enable` once, before the first fit. jaxdip never turns it on by itself on
import: it is a process-wide JAX setting, and yours wins (a directory already configured through
``JAX_COMPILATION_CACHE_DIR`` or ``jax.config`` is kept).

Example:
    >>> import jaxdip.compile_cache
    >>> path = jaxdip.compile_cache.enable()  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

__all__ = ["default_dir", "enable"]


def default_dir() -> Path:
    """``$JAXDIP_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxdip/xla``, else ``~/.cache/jaxdip/xla``."""
    if os.environ.get("JAXDIP_CACHE_DIR"):
        return Path(os.environ["JAXDIP_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "jaxdip" / "xla"


def enable(path: str | os.PathLike | None = None, max_size_mb: float = 2048) -> Path:
    """Turn on JAX's persistent compilation cache in ``path``; returns the directory in use.

    With ``path=None`` a directory JAX already has (``JAX_COMPILATION_CACHE_DIR``,
    ``jax.config.update("jax_compilation_cache_dir", ...)``) is kept as it is, else
    :func:`default_dir` is used. The directory is created if missing. Call it before the first
    compile: JAX opens its cache once per process, so changing the directory after that has no
    effect. Only programs that took at least ``jax_persistent_cache_min_compile_time_secs`` (JAX's
    default: 1 s) to compile are written.

    ``max_size_mb`` bounds the directory: past it JAX evicts the least recently used programs.
    The bound also makes JAX lock the directory (``filelock``) around each read and write, so a
    process never reads an entry that another one is still writing. It is not applied where
    ``jax_compilation_cache_max_size`` is already set. An entry left truncated by a crash makes
    JAX warn and compile that program instead, each time; delete the directory then.

    Raises:
        ValueError: ``path`` exists and is not a directory, or cannot be created; ``max_size_mb``
            is not positive.
    """
    if not max_size_mb > 0:
        raise ValueError(f"max_size_mb: expected a positive size in MB, got {max_size_mb}")
    current = jax.config.jax_compilation_cache_dir
    if path is None and current:
        return Path(current)
    directory = Path(default_dir() if path is None else path).expanduser()
    if directory.exists() and not directory.is_dir():
        raise ValueError(
            f"path: expected a directory for the compile cache, got the file {directory}"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"path: cannot create the compile cache directory {directory}: {err}"
        ) from None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    if jax.config.jax_compilation_cache_max_size == -1:  # JAX's default: unbounded
        jax.config.update("jax_compilation_cache_max_size", int(max_size_mb * 2**20))
    return directory
