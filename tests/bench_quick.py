"""Run a bench script's ``--quick`` smoke mode and check the JSON header every bench writes."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_quick(tmp_path, name: str) -> dict:
    """``python bench/NAME.py --quick --out ...``; returns its JSON after checking the header
    (benchmark name, backend, device, versions, machine, load averages, date)."""
    out = tmp_path / f"{name}.json"
    cmd = [sys.executable, os.path.join(ROOT, "bench", f"{name}.py"), "--quick", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["benchmark"] == name
    assert data["backend"] in ("cpu", "gpu", "tpu") and data["device"]
    assert {"jax", "jaxlib", "flax", "optax", "python"} <= set(data["versions"])
    assert data["machine"]["cpu_count"] >= 1 and len(data["machine"]["load_start"]) == 3
    assert {"cpu_model", "cpu_family_model", "cpu_vector_flags"} <= set(data["machine"])
    assert data["date"].startswith("20")
    return data
