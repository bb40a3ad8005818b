import json
import os
import subprocess
import sys


def test_quality_quick_writes_json(tmp_path):
    out = tmp_path / "q.json"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "bench/quality.py", "--quick", "--tasks", "denoise", "ct", "--out", str(out)],
        cwd=root, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert {"machine", "versions", "date", "results"} <= set(report)
    rows = report["results"]
    assert [r["task"] for r in rows] == ["denoise", "ct"]
    for r in rows:
        for key in ("baseline", "baseline_psnr", "dip_psnr", "dip_best_psnr", "dip_ssim", "steps", "seconds"):
            assert key in r
        assert r["steps"] == 5 and r["baseline_psnr"] > 15
