"""Smoke test of bench/ensemble.py: --quick (K = 1, 2, tiny one-scale Skip), JSON schema."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ensemble_quick_writes_json(tmp_path):
    out = tmp_path / "ensemble.json"
    cmd = [sys.executable, os.path.join(ROOT, "bench", "ensemble.py"), "--quick", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["benchmark"] == "ensemble"
    assert data["backend"] in ("cpu", "gpu", "tpu") and data["device"]
    assert {"jax", "jaxlib", "flax", "optax", "python"} <= set(data["versions"])
    assert data["machine"]["cpu_count"] >= 1 and len(data["machine"]["load_start"]) == 3
    assert data["date"].startswith("20")
    setting = data["setting"]
    assert (setting["size"], setting["steps"], setting["chunk"]) == (16, 2, 1)
    assert data["sequential_compile_s"] >= 0 and data["sequential_init_s_per_member"] > 0
    assert data["target"]["met"] is None  # no K = 8 in the quick run
    assert [r["K"] for r in data["results"]] == [1, 2]
    for r in data["results"]:
        assert r["member_steps"] == r["K"] * setting["steps"]
        for name in ("vmapped", "sequential"):
            rate = r[f"{name}_member_steps_per_s"]
            assert rate > 0
            assert abs(rate * r[f"{name}_s"] - r["member_steps"]) < 1e-6 * r["member_steps"]
        assert abs(r["speedup"] - r["sequential_s"] / r["vmapped_s"]) < 1e-9
        assert r["vmapped_compile_s"] >= 0 and r["vmapped_first_call_s"] > 0
        assert r["vmapped_init_s"] > 0 and r["sequential_init_s"] > 0
