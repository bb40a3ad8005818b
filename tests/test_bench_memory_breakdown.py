"""Smoke test of bench/memory_breakdown.py: --quick (skip net at 32, jaxdip only, one round)."""

import os
import sys

import pytest

from tests.bench_quick import ROOT, run_quick

sys.path.insert(0, os.path.join(ROOT, "bench"))
from memory_breakdown import STAGES  # noqa: E402

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux only)"
)


def test_memory_breakdown_quick_writes_json(tmp_path):
    data = run_quick(tmp_path, "memory_breakdown")
    assert data["quick"] is True and data["setting"]["rounds"] == 1
    (row,) = data["results"]
    assert (row["model"], row["size"], row["params"]) == ("skip", 32, 2_217_831)
    assert row["torch_step_peak_rss_mb"] is None and row["torch_runs"] == []
    assert row["jax_xla_temp_mb"] > 0 and row["jax_xla_argument_mb"] > 0
    stages = row["jax_stages"]
    assert list(stages) == list(STAGES) and all(v > 50 for v in stages.values())
    # The model's 2.2 M float32 parameters are resident once it is built (8.9 MB), and compiling
    # the fitting loop's hundreds of kernels adds more than that.
    assert stages["model"] - stages["imports"] > 8
    assert stages["compiled"] - stages["lowered"] > 8
    # Clearing the loop's compiled program hands memory back: the attribution sees it.
    assert row["jax_held_mb"]["loop_executable"] > 1
    if row["jax_step_peak_rss_mb"] is not None:
        # A step holds at least its XLA temporaries on top of the compiled stage (a few MB of
        # slack: pages of the compiled stage's heap can be reused).
        assert row["jax_step_peak_rss_mb"] > stages["compiled"] + row["jax_xla_temp_mb"] - 5
        assert row["jax_outside_xla_mb"] == (
            row["jax_step_peak_rss_mb"] - stages["compiled"] - row["jax_xla_temp_mb"]
        )
    if row["jax_heap"] is not None:  # glibc
        assert row["jax_heap"]["compiled"]["in_use"] > row["jax_heap"]["lowered"]["in_use"]
