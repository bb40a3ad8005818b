"""Smoke test of bench/stopping.py: --quick (tiny one-scale Skip, one image), JSON schema and the
consistency of the reported gaps with the reported PSNRs."""

import math

from tests.bench_quick import run_quick


def test_stopping_quick_writes_json(tmp_path):
    data = run_quick(tmp_path, "stopping")
    assert data["quick"] is True

    over = data["overhead"]
    assert [r["size"] for r in over["results"]] == [16]
    for r in over["results"]:
        med = r["s_per_step"]
        assert set(med) == {"none", "WMV", "EMV", "SV"} and min(med.values()) > 0
        assert all(len(v) == over["setting"]["repeats"] for v in r["s_per_step_all"].values())
        cpu = r["cpu_s_per_step"]
        assert set(cpu) == set(med) and min(cpu.values()) > 0
        for name in ("WMV", "EMV", "SV"):
            assert math.isclose(r["overhead_pct"][name], 100 * (med[name] / med["none"] - 1))
            assert math.isclose(r["cpu_overhead_pct"][name], 100 * (cpu[name] / cpu["none"] - 1))
    assert set(over["target_met"]) == {"WMV", "EMV"}

    st = data["study"]
    steps = st["setting"]["steps"]
    variants = list(st["setting"]["variants"])
    assert {"WMV-ref", "EMV-ref"} <= set(variants)
    # one grey image x 4 noise types x 2 levels
    assert len(st["cases"]) == 8
    assert {c["noise"] for c in st["cases"]} == {"gaussian", "shot", "impulse", "speckle"}
    for c in st["cases"]:
        assert 0 <= c["best_step"] < steps and c["final_psnr"] <= c["best_psnr"]
        for name in variants:
            step = c[f"{name}_step"]
            assert -1 <= step < steps
            if step >= 0:  # gap = best PSNR - PSNR at the detected step, never negative
                assert math.isclose(c[f"{name}_gap"], c["best_psnr"] - c[f"{name}_psnr"])
                assert c[f"{name}_gap"] >= 0
    for name in variants:
        s = st["summary"][name]["all"]
        gaps = sorted(c[f"{name}_gap"] for c in st["cases"] if c[f"{name}_gap"] is not None)
        assert s["n"] == len(gaps)
        if gaps:
            mid = len(gaps) // 2
            assert math.isclose(s["median"], (gaps[mid - 1] + gaps[mid]) / 2 if len(gaps) % 2 == 0
                                else gaps[mid])
            assert s["median"] <= s["p90"] <= s["max"]
