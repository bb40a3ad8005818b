import json

import numpy as np
import pytest

from jaxdip.cli import main

TINY = ["--size", "32", "--steps", "3", "--width", "4", "--scales", "2", "--quiet"]


@pytest.mark.parametrize("task", ["denoise", "inpaint", "superres", "deblur", "cs", "mri", "ct"])
def test_each_task_runs_end_to_end(task, tmp_path, capsys):
    assert main([task, *TINY, "--out", str(tmp_path)]) == 0
    for name in ("recon.png", "degraded.png", "metrics.json", "history.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["task"] == task and metrics["steps"] == 3
    assert np.isfinite(metrics["psnr"]) and -1 <= metrics["ssim"] <= 1
    assert "PSNR" in capsys.readouterr().out


def test_measured_data_without_ground_truth(tmp_path):
    noisy = np.random.default_rng(0).uniform(size=(64, 64, 1)).astype(np.float32)
    np.save(tmp_path / "y.npy", noisy)
    out = tmp_path / "out"
    assert main(["denoise", "--measurement", str(tmp_path / "y.npy"), *TINY, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "psnr" not in metrics and metrics["steps"] == 3


def test_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no such file"):
        main(["denoise", str(tmp_path / "missing.png"), *TINY])
    with pytest.raises(SystemExit, match="--measurement: file not found"):
        main(["ct", "--measurement", str(tmp_path / "nope.npy"), *TINY])
    with pytest.raises(SystemExit):
        main(["denoise", "--steps", "-3"])
    assert "positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="unknown image name"):
        main(["denoise", "not_an_image", *TINY])


def test_stop_rule_and_ensemble(tmp_path, capsys):
    out = tmp_path / "stop"
    assert main(["denoise", *TINY, "--steps", "12", "--stop", "wmv", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopping"] == "WMV"
    out = tmp_path / "ens"
    assert main(["denoise", *TINY, "--ensemble", "2", "--stop", "none", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ensemble"] == 2 and len(metrics["psnr_members"]) == 2
    assert set(metrics["calibration"]) >= {"spearman", "coverage_2std", "ause"}
    assert (out / "uncertainty.png").stat().st_size > 0
    assert "coverage" in capsys.readouterr().out
