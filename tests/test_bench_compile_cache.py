"""Smoke test of bench/compile_cache.py: --quick (skip net at 64, one cold/warm pair), JSON schema,
and the warm worker (which loads the cold worker's programs) reporting the same loss."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_compile_cache_quick_writes_json(tmp_path):
    out = tmp_path / "compile_cache.json"
    cmd = [sys.executable, os.path.join(ROOT, "bench", "compile_cache.py"), "--quick", "--out",
           str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["benchmark"] == "compile_cache" and data["quick"] is True
    assert data["backend"] in ("cpu", "gpu", "tpu") and data["device"]
    assert {"jax", "jaxlib", "flax", "optax", "python"} <= set(data["versions"])
    assert data["machine"]["cpu_count"] >= 1 and data["date"].startswith("20")
    (row,) = data["results"]
    assert (row["model"], row["size"]) == ("skip", 64)
    cold, warm = row["runs"]["cold"][0], row["runs"]["warm"][0]
    assert cold["cache_files"] >= 2  # the state builder and the fitting loop were written
    assert row["same_loss"] is True and cold["loss"] == warm["loss"]
    for kind in ("cold", "warm"):
        assert row[f"{kind}_to_first_step_s"] > 0 and row[f"{kind}_xla_compile_s"] > 0
