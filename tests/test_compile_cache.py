"""jaxdip.compile_cache: directory choice, errors, and a real hit in a second process."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import pytest

from jaxdip import compile_cache
from jaxdip.cli import build_parser


def test_default_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXDIP_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.default_dir() == tmp_path / "mine"
    monkeypatch.delenv("JAXDIP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.default_dir() == tmp_path / "xdg" / "jaxdip" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compile_cache.default_dir() == Path.home() / ".cache" / "jaxdip" / "xla"


def test_a_directory_jax_already_has_is_kept():
    # tests/conftest.py gives the test processes a cache directory through the environment.
    configured = jax.config.jax_compilation_cache_dir
    assert configured, "conftest.py sets JAX_COMPILATION_CACHE_DIR"
    assert compile_cache.enable() == Path(configured)
    assert jax.config.jax_compilation_cache_dir == configured


def test_a_file_as_cache_directory_is_named_in_the_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ValueError, match="path: expected a directory"):
        compile_cache.enable(tmp_path / "file")
    with pytest.raises(ValueError, match="path: cannot create"):
        compile_cache.enable(tmp_path / "file" / "below")


def test_a_non_positive_size_bound_is_named_in_the_error(tmp_path):
    with pytest.raises(ValueError, match="max_size_mb: expected a positive size"):
        compile_cache.enable(tmp_path, max_size_mb=0)


def test_cli_cache_options():
    parser = build_parser()
    assert parser.parse_args(["denoise"]).no_compile_cache is False
    assert parser.parse_args(["denoise", "--no-compile-cache"]).no_compile_cache is True
    assert parser.parse_args(["denoise", "--compile-cache", "d"]).compile_cache == Path("d")
    with pytest.raises(SystemExit):
        parser.parse_args(["denoise", "--compile-cache", "d", "--no-compile-cache"])


_PROGRAM = textwrap.dedent(
    """
    import sys
    import jax, jax.numpy as jnp
    from jaxdip import compile_cache

    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None)
    print(compile_cache.enable())
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum() + 3.0)
    print(float(f(jnp.arange(12.0).reshape(3, 4) / 10)))
    print(len(hits))
    """
)


def test_second_process_loads_the_program_from_the_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env["JAXDIP_CACHE_DIR"] = str(tmp_path / "cache")
    runs = [
        subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True,
                       check=True).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][0] == runs[1][0] == str(tmp_path / "cache")
    assert any(p.name.startswith("jit_") for p in (tmp_path / "cache").iterdir())
    assert runs[0][1] == runs[1][1]  # the loaded program computes what the compiled one did
    assert int(runs[0][2]) == 0 and int(runs[1][2]) >= 1


def test_cli_names_a_bad_cache_directory(tmp_path, capsys):
    from jaxdip.cli import main

    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SystemExit, match="--compile-cache: path: expected a directory"):
        main(["denoise", "--compile-cache", str(tmp_path / "file")])


_TWO_PROGRAMS = textwrap.dedent(
    """
    import sys
    import jax, jax.numpy as jnp, numpy as np
    from jaxdip import compile_cache

    compile_cache.enable(sys.argv[1], max_size_mb=float(sys.argv[2]))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    x = jnp.asarray(np.arange(12.0).reshape(3, 4))  # a transfer, no program of its own

    def first(x):
        return jnp.tanh(x @ x.T).sum()

    def second(x):
        return jnp.cos(x.T @ x).max()

    jax.jit(first)(x).block_until_ready()
    jax.jit(second)(x).block_until_ready()
    """
)


def test_the_size_bound_evicts_the_least_recently_used_program(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}

    def run(directory, max_size_mb):
        subprocess.run([sys.executable, "-c", _TWO_PROGRAMS, str(directory), str(max_size_mb)],
                       env=env, check=True, capture_output=True)
        return {p.name.split("-")[0]: p.stat().st_size for p in directory.iterdir()
                if p.name.endswith("-cache")}

    unbounded = run(tmp_path / "big", 1024)
    assert {"jit_first", "jit_second"} <= set(unbounded)
    first, second = unbounded["jit_first"], unbounded["jit_second"]
    assert min(first, second) > 0.5 * max(first, second)
    # Room for either program but not for both: the one written first is evicted.
    bound = int(1.5 * max(first, second))
    bounded = run(tmp_path / "small", bound / 2**20)
    assert "jit_second" in bounded and "jit_first" not in bounded
    assert sum(bounded.values()) <= bound
