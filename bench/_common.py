"""Helpers shared by the benchmark scripts (run as `python bench/NAME.py`, so importable as `_common`)."""

from __future__ import annotations

import importlib.metadata
import os


def version(dist: str) -> str | None:
    """Installed version of distribution ``dist``, or None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded (empty where the OS has none)."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else []
