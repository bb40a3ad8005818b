"""jaxdip.xla_options: the CPU options, their opt-out and probe, and that they do not change results."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip import xla_options
from jaxdip.models.skip import Skip
from tests.compile_events import compiles_of


@pytest.fixture
def fresh_cache():
    xla_options.compiler_options.cache_clear()
    yield
    xla_options.compiler_options.cache_clear()


def test_cpu_keeps_ynnpack_for_reductions_and_the_older_emitters(fresh_cache):
    opts = xla_options.compiler_options()
    if jax.default_backend() != "cpu":
        assert opts == {}
    else:
        assert opts == {
            "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_REDUCE",
            "xla_cpu_use_fusion_emitters": False,
        }


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the options are CPU-only")
def test_accepted_options_cost_one_probe_compile(fresh_cache):
    xla_options._accepted.cache_clear()
    with compiles_of("") as compiles:
        assert len(xla_options.compiler_options(fast_compile=True)) == 3
    assert len(compiles) == 1


def test_fast_compile_adds_the_unoptimised_backend_and_computes_the_same(fresh_cache):
    opts = xla_options.compiler_options(fast_compile=True)
    if jax.default_backend() == "cpu":
        assert opts == {**xla_options.compiler_options(), "xla_backend_optimization_level": 0}
    else:
        assert opts == {}
    f = lambda k: jax.random.uniform(k, (5, 7), minval=-0.3, maxval=0.3) * 1.7 + 0.1
    key = jax.random.key(4)
    # the same numbers up to floating-point contraction (an ulp), not a different draw
    np.testing.assert_allclose(
        xla_options.jit(f, fast_compile=True)(key), jax.jit(f)(key), rtol=1e-6, atol=1e-7
    )


def test_env_opt_out_and_rejected_option_give_empty(fresh_cache, monkeypatch):
    monkeypatch.setenv("JAXDIP_XLA_OPTIONS", "0")
    assert xla_options.compiler_options() == {}
    xla_options.compiler_options.cache_clear()
    monkeypatch.delenv("JAXDIP_XLA_OPTIONS")
    monkeypatch.setattr(xla_options, "_CPU_OPTIONS", {"xla_cpu_no_such_option_for_test": "1"})
    assert xla_options.compiler_options() == {}


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the options are CPU-only")
def test_a_rejected_option_drops_only_itself(fresh_cache, monkeypatch):
    monkeypatch.setattr(
        xla_options,
        "_CPU_OPTIONS",
        {"xla_cpu_no_such_option_for_test": "1", "xla_cpu_use_fusion_emitters": False},
    )
    assert xla_options.compiler_options() == {"xla_cpu_use_fusion_emitters": False}


def test_jit_matches_plain_jit_on_a_skip_gradient():
    net = Skip(channels_down=(8, 8), channels_up=(8, 8), channels_skip=(2, 2), rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(net, nnx.Param)
    z = net.make_input(jax.random.key(1), (16, 16))

    def loss(p, scale):
        return scale * jnp.mean(nnx.merge(graphdef, p)(z) ** 2)

    grad = jax.grad(loss)
    got = xla_options.jit(grad, static_argnums=1)(params, 2.0)
    want = jax.jit(grad, static_argnums=1)(params, 2.0)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
