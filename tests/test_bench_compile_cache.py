"""Smoke test of bench/compile_cache.py: --quick (Deep Decoder at 64, one cold/warm pair), JSON
schema, and the warm worker (which loads the cold worker's programs) reporting the same loss."""

from tests.bench_quick import run_quick


def test_compile_cache_quick_writes_json(tmp_path):
    data = run_quick(tmp_path, "compile_cache")
    assert data["quick"] is True
    (row,) = data["results"]
    assert (row["model"], row["size"]) == ("deep_decoder", 64)
    cold, warm = row["runs"]["cold"][0], row["runs"]["warm"][0]
    assert cold["cache_files"] >= 2  # the state builder and the fitting loop were written
    assert row["same_loss"] is True and cold["loss"] == warm["loss"]
    for kind in ("cold", "warm"):
        assert row[f"{kind}_to_first_step_s"] > 0 and row[f"{kind}_xla_compile_s"] > 0
