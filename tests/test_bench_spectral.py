import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "spectral.py")


def test_quick_benchmark_writes_results(tmp_path):
    out = tmp_path / "spectral.json"
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--quick", "--out", str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert {"machine", "device", "versions", "date", "runs"} <= set(result)
    assert result["versions"]["jax"] and result["device"]["platform"]
    (run,) = result["runs"]
    assert run["size"] == [8, 8, 3] and run["k"] == 4 and len(run["singular_values"]) == 4
    s = run["singular_values"]
    assert all(a >= b > 0 for a, b in zip(s, s[1:]))
    assert run["max_relative_residual"] < 1e-3
    assert run["run_s"] > 0 and run["peak_rss_mib"] > 0
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
