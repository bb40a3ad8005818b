"""Smoke test of bench/ensemble.py: --quick (K = 1, 2, tiny one-scale Skip), JSON schema."""

from tests.bench_quick import run_quick


def test_ensemble_quick_writes_json(tmp_path):
    data = run_quick(tmp_path, "ensemble")
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
