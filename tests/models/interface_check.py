"""Shared check of the generator interface every jaxdip model follows.

``make_input`` has the shape ``input_shape`` promises, the output is one float32 image, the same key
gives the same model, and ``nnx.merge(graphdef, params)(z)`` is a pure function of ``params``: it
runs under ``jax.jit`` (a new params pytree of the same shapes does not recompile) and ``jax.grad``
gives finite, non-zero gradients.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def check_generator(make_model, out_hw, out_channels, *, unit_range: bool) -> jax.Array:
    """Run the interface checks on ``make_model(key)``; return the jitted output image."""
    model = make_model(jax.random.key(0))
    z = model.make_input(jax.random.key(1), out_hw)
    assert tuple(z.shape) == tuple(model.input_shape(out_hw))
    assert z.dtype == jnp.float32

    graphdef, params = nnx.split(model, nnx.Param)
    traces = []

    @jax.jit
    def apply(p, z):
        traces.append(1)
        return nnx.merge(graphdef, p)(z)

    out = apply(params, z)
    assert out.shape == (*out_hw, out_channels)
    assert out.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(out)))
    if unit_range:
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    # Same key, same model; another key, other parameters; new params do not recompile.
    params_again = nnx.state(make_model(jax.random.key(0)), nnx.Param)
    np.testing.assert_array_equal(np.asarray(apply(params_again, z)), np.asarray(out))
    params_other = nnx.state(make_model(jax.random.key(5)), nnx.Param)
    assert not np.allclose(np.asarray(apply(params_other, z)), np.asarray(out))
    assert len(traces) == 1

    def loss(p):
        return jnp.mean(jnp.square(nnx.merge(graphdef, p)(z) - 0.5))

    grads = jax.jit(jax.grad(loss))(params)
    leaves = jax.tree.leaves(grads)
    assert leaves and all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert sum(float(jnp.sum(jnp.abs(g))) for g in leaves) > 0
    return out
