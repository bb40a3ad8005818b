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


def test_cpu_keeps_ynnpack_for_reductions_the_older_emitters_and_region_analysis(fresh_cache):
    opts = xla_options.compiler_options()
    if jax.default_backend() != "cpu":
        assert opts == {}
    else:
        assert opts == {
            "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_REDUCE",
            "xla_cpu_use_fusion_emitters": False,
            "xla_cpu_copy_insertion_use_region_analysis": True,
        }


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the options are CPU-only")
def test_accepted_options_cost_one_probe_compile(fresh_cache):
    xla_options._accepted.cache_clear()
    with compiles_of("") as compiles:
        assert len(xla_options.compiler_options(fast_compile=True)) == 4
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


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the options are CPU-only")
def test_region_analysis_keeps_no_copies_of_the_parameters_through_a_step(fresh_cache):
    """Without the copy-insertion region analysis, XLA keeps copies of the parameters and of Adam's
    moments alive through the whole step of ``fit.run``'s loop; with it, the temporaries drop by
    more than two parameter vectors (the default skip net at 32x32: 39.4 -> 19.8 MB for 8.9 MB
    of parameters; here a smaller one at 16x16)."""
    from jaxdip import fit
    from jaxdip.operators import Identity

    net = Skip(channels_down=(64, 64), channels_up=(64, 64), channels_skip=(4, 4), rngs=nnx.Rngs(0))
    y = jnp.full((16, 16, 3), 0.5)
    state = fit.init(jax.random.key(0), net, Identity(y.shape), y)
    param_bytes = sum(a.nbytes for a in jax.tree.leaves(state.packed_params))
    opts = xla_options.compiler_options()
    assert opts["xla_cpu_copy_insertion_use_region_analysis"] is True

    def temp_bytes(options):
        jitted = jax.jit(fit.run, static_argnums=1, compiler_options=options)
        return jitted.lower(state, 3).compile().memory_analysis().temp_size_in_bytes

    without = temp_bytes({**opts, "xla_cpu_copy_insertion_use_region_analysis": False})
    assert temp_bytes(opts) < without - 2 * param_bytes
