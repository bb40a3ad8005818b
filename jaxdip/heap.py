"""Give the C heap's free pages back to the operating system after compiling.

XLA compiles on worker threads, and glibc keeps what those threads free in their own arenas,
resident, for later reuse: after compiling the DIP skip net's fitting loop at 256x256, about
65 MB. ``malloc_trim(0)`` hands them back. :func:`jaxdip.fit.fit` calls :func:`release_free_heap`
once, after compiling its loop and before the first step; on a 2-core CPU the skip net's resident
peak while fitting at 256x256 went 1090 -> 1033 MB (``bench/README.md``, "Heap after compiling").
Call it yourself after compiling your own ``jax.jit`` programs if resident memory matters.

Example:
    >>> from jaxdip.heap import release_free_heap
    >>> isinstance(release_free_heap(), bool)
    True
"""

from __future__ import annotations

import ctypes
import functools

__all__ = ["release_free_heap"]


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl) or not a POSIX dlopen
        return None


def release_free_heap() -> bool:
    """``malloc_trim(0)`` where the C library is glibc (Linux); returns whether it ran."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
