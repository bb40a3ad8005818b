"""Helpers shared by the benchmark scripts (run as `python bench/NAME.py`, so importable as `_common`)."""

from __future__ import annotations

import importlib.metadata
import os
import platform

# The /proc/cpuinfo flags that decide which matrix kernels a CPU runs (oneDNN's, XLA's, YNNPACK's).
_VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def version(dist: str) -> str | None:
    """Installed version of distribution ``dist``, or None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded (empty where the OS has none)."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else []


def cpu() -> dict:
    """``cpu_model`` (model name), ``cpu_family_model`` (e.g. ``"25/17"``: one model name can cover
    several generations) and ``cpu_vector_flags`` (those of :data:`_VECTOR_FLAGS` present), read
    from /proc/cpuinfo; None each where it is missing (not Linux)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    family, model = fields.get("cpu family"), fields.get("model")
    flags = set(fields.get("flags", "").split())
    return {
        "cpu_model": fields.get("model name"),
        "cpu_family_model": f"{family}/{model}" if family and model else None,
        "cpu_vector_flags": [f for f in _VECTOR_FLAGS if f in flags] if flags else None,
    }


def machine(**extra) -> dict:
    """The ``machine`` record of a bench JSON: platform, processor, :func:`cpu`, core count, and
    the script's own ``extra`` fields (load averages)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        **cpu(),
        "cpu_count": os.cpu_count(),
        **extra,
    }
