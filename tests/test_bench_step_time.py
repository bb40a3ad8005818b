"""Smoke tests of bench/step_time.py: jaxdip only (CI has neither torch nor deepinv), tiny sizes."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "step_time.py")
DEEPINV_FIELDS = (
    "deepinv_s", "deepinv_ratio", "deepinv_first_step_s", "deepinv_peak_rss_mb",
    "deepinv_step_peak_rss_mb", "deepinv_base_rss_mb", "deepinv_params", "deepinv_version",
    "deepinv_times",
)


def _run(tmp_path, *args):
    out = tmp_path / "step_time.json"
    cmd = [sys.executable, SCRIPT, "--quick", "--sizes", "32", "--out", str(out), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc


def _check_jax_memory(row):
    assert row["jax_peak_rss_mb"] > 50
    if sys.platform.startswith("linux"):
        assert 0 < row["jax_base_rss_mb"] < row["jax_peak_rss_mb"]
    if row["jax_step_peak_rss_mb"] is None:  # no /proc/self/clear_refs (not Linux, or locked down)
        assert row["rss_note"]
    else:
        assert row["jax_step_peak_rss_mb"] > 0
        assert row["jax_step_peak_rss_mb"] <= row["jax_peak_rss_mb"] + 1e-6
    if row["jax_xla_temp_mb"] is not None:
        assert row["jax_xla_temp_mb"] >= 0 and row["jax_xla_argument_mb"] > 0


def test_step_time_quick_writes_json(tmp_path):
    data, _ = _run(tmp_path, "--frameworks", "jax", "--models", "deep_decoder")
    assert data["backend"] in ("cpu", "gpu", "tpu")
    assert {"jax", "jaxlib", "flax", "python"} <= set(data["versions"])
    assert data["machine"]["cpu_count"] >= 1 and "cpu_family_model" in data["machine"]
    (row,) = data["results"]
    assert (row["model"], row["size"]) == ("deep_decoder", 32)
    assert row["jax_s"] > 0 and row["jax_compile_s"] > row["jax_s"] * 0.5
    assert 0 < row["jax_trace_s"] and 0 < row["jax_xla_compile_s"]
    assert row["jax_compile_s"] == row["jax_trace_s"] + row["jax_xla_compile_s"]
    assert row["jax_compile_round_s"] == [row["jax_compile_s"]]
    assert 0 < row["jax_xla_compile_cpu_s"]
    # --quick times 2 steps per jitted call (one lax.scan); the first call runs them once.
    assert data["jax_chunk"] == row["jax_chunk"] == 2 and row["jax_first_run_s"] > 0
    assert row["jax_params"] > 0
    _check_jax_memory(row)
    assert row["torch_s"] is None and row["ratio"] is None
    assert all(row[k] is None for k in DEEPINV_FIELDS)
    assert len(row["jax_times"]) == 1
    # FLOPs of one step (its products), the same for chunk 2 as for chunk 1, and the rate.
    assert row["jax_step_flops"] > 0
    assert row["jax_tflops"] == pytest.approx(row["jax_step_flops"] / row["jax_s"] / 1e12)
    if data["backend"] == "cpu":
        assert data["gpu_peak_tflops"] is None and row["jax_fraction_fp32_peak"] is None
        assert row["jax_device_peak_mb"] is None
    # the same step FLOPs from a one-step chunk (the count divides the scan's by its length)
    one, _ = _run(tmp_path, "--frameworks", "jax", "--models", "deep_decoder", "--chunk", "1")
    assert one["jax_chunk"] == 1 and one["results"][0]["jax_step_flops"] == row["jax_step_flops"]


def test_step_time_device_gpu_without_a_gpu_is_an_error(tmp_path):
    import jax

    if jax.default_backend() == "gpu":
        pytest.skip("this machine has a GPU")
    cmd = [sys.executable, SCRIPT, "--device", "gpu", "--quick", "--out", str(tmp_path / "g.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode != 0 and "--device gpu" in proc.stderr
    assert not (tmp_path / "g.json").exists()


def test_step_time_without_deepinv_keeps_going(tmp_path):
    missing = str(tmp_path / "no-such-venv" / "bin" / "python")
    data, proc = _run(
        tmp_path, "--frameworks", "jax", "deepinv", "--models", "conv_decoder",
        "--deepinv-python", missing,
    )
    assert "deepinv" in proc.stderr and missing in proc.stderr
    assert data["deepinv_python"] is None and data["versions"]["deepinv"] is None
    (row,) = data["results"]
    assert (row["model"], row["size"]) == ("conv_decoder", 32)
    assert row["jax_s"] > 0 and row["jax_params"] > 0
    _check_jax_memory(row)
    assert all(row[k] is None for k in DEEPINV_FIELDS)


def test_deepinv_worker_helpers_need_no_jax():
    """deepinv_worker.py runs where jax and jaxdip are absent: its imports must not need them."""
    code = (
        "import sys; sys.modules.update(jax=None, jaxdip=None, torch=None, deepinv=None)\n"
        f"sys.path.insert(0, {os.path.join(ROOT, 'bench')!r})\n"
        "import deepinv_worker, step_time\n"
        "z, y = step_time._data('conv_decoder', 32)\n"
        "assert z.shape == (8, 4, 160) and y.shape == (32, 32, 2), (z.shape, y.shape)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.skipif(
    not os.environ.get("JAXDIP_DEEPINV_PYTHON"),
    reason="set JAXDIP_DEEPINV_PYTHON to an interpreter with deepinv (bench/README.md)",
)
def test_step_time_deepinv_same_parameter_count(tmp_path):
    data, _ = _run(tmp_path, "--frameworks", "jax", "deepinv", "--models", "conv_decoder")
    (row,) = data["results"]
    assert row["deepinv_params"] == row["jax_params"]
    assert row["deepinv_s"] > 0 and row["deepinv_ratio"] > 0 and row["deepinv_version"]
    assert len(row["deepinv_times"]) == 1
    if row["deepinv_step_peak_rss_mb"] is not None:
        assert 0 < row["deepinv_base_rss_mb"] <= row["deepinv_peak_rss_mb"]


def test_gpu_run_script_dry_run_on_cpu_with_two_rounds(tmp_path):
    """bench/gpu_run.sh with DEVICE=cpu: the command a lent GPU machine runs, here on the CPU; two
    rounds, whose times and ratios are medians over the rounds."""
    env = {**os.environ, "OUT": str(tmp_path), "DEVICE": "cpu", "SIZES": "32", "ROUNDS": "2",
           "MODELS": "deep_decoder", "REPEATS": "1", "CHUNK": "2", "PYTHON": sys.executable}
    script = os.path.join(ROOT, "bench", "gpu_run.sh")
    proc = subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "step_time_cpu.json").read_text())
    (row,) = data["results"]
    assert (row["model"], row["size"], row["jax_chunk"]) == ("deep_decoder", 32, 2)
    assert data["threads"] >= 1 and row["jax_step_flops"] > 0
    assert data["rounds"] == row["rounds"] == 2
    assert len(row["jax_round_s"]) == 2 and len(row["jax_times"]) == 2
    assert row["jax_s"] == pytest.approx(sum(row["jax_round_s"]) / 2)
    if row["torch_s"] is None:  # no torch here (CI): no ratio
        assert row["ratio"] is None and row["ratio_rounds"] is None
    else:  # the ratio is the median of the two rounds' own ratios
        assert len(row["ratio_rounds"]) == 2
        assert row["ratio"] == pytest.approx(sum(row["ratio_rounds"]) / 2)
    assert "deep_decoder" in (tmp_path / "step_time_cpu.log").read_text()
