"""Smoke test of bench/step_time.py: jaxdip only (CI has no torch), tiny size, JSON schema."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_step_time_quick_writes_json(tmp_path):
    out = tmp_path / "step_time.json"
    cmd = [
        sys.executable, os.path.join(ROOT, "bench", "step_time.py"), "--quick", "--sizes", "32",
        "--frameworks", "jax", "--models", "deep_decoder", "--out", str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["backend"] in ("cpu", "gpu", "tpu")
    assert {"jax", "jaxlib", "flax", "python"} <= set(data["versions"])
    assert data["machine"]["cpu_count"] >= 1
    (row,) = data["results"]
    assert (row["model"], row["size"]) == ("deep_decoder", 32)
    assert row["jax_s"] > 0 and row["jax_compile_s"] > row["jax_s"] * 0.5
    assert row["jax_peak_rss_mb"] > 50
    assert row["torch_s"] is None and row["ratio"] is None
    assert len(row["jax_times"]) == 1
