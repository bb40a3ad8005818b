import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip.models.skip import Skip
from jaxdip.param_layout import ParamLayout


def _mixed():
    return {
        "a": jnp.arange(6, dtype=jnp.float32).reshape(2, 3),
        "b": jnp.asarray([1 + 2j, 3 - 1j], jnp.complex64),
        "c": jnp.full((4,), 7.0, jnp.float32),
        "d": jnp.asarray(2.5, jnp.float32),
    }


def test_pack_concatenates_per_dtype_and_unpack_restores_the_tree():
    params = _mixed()
    layout = ParamLayout.of(params)
    packed = layout.pack(params)
    assert layout.groups == ("float32", "complex64")
    np.testing.assert_array_equal(packed["float32"], [0, 1, 2, 3, 4, 5, 7, 7, 7, 7, 2.5])
    np.testing.assert_array_equal(packed["complex64"], params["b"])
    back = layout.unpack(packed)
    for k in params:
        assert back[k].dtype == params[k].dtype and back[k].shape == params[k].shape
        np.testing.assert_array_equal(back[k], params[k])


def test_a_skip_nets_state_round_trips_and_is_hashable():
    _, state = nnx.split(Skip(channels_down=(4, 4), channels_up=(4, 4), channels_skip=(2, 2),
                              rngs=nnx.Rngs(0)), nnx.Param)
    layout = ParamLayout.of(state)
    abstract = ParamLayout.of(jax.eval_shape(lambda: state))
    assert layout == abstract and hash(layout) == hash(abstract)
    packed = layout.pack(state)
    assert packed["float32"].size == sum(a.size for a in jax.tree.leaves(state))
    for a, b in zip(jax.tree.leaves(layout.unpack(packed)), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)


def test_leading_batch_axes_are_kept():
    params = _mixed()
    layout = ParamLayout.of(params)
    batch = jax.tree.map(lambda a: jnp.stack([a, 2 * a, 3 * a]), params)
    packed = layout.pack(batch)
    assert packed["float32"].shape == (3, 11)
    np.testing.assert_array_equal(packed["float32"], jax.vmap(layout.pack)(batch)["float32"])
    back = layout.unpack(packed)
    np.testing.assert_array_equal(back["a"][2], 3 * params["a"])


def test_the_gradient_through_unpack_is_the_packed_gradient():
    params = _mixed()
    layout = ParamLayout.of(params)
    packed = layout.pack(params)

    def f(v):
        p = layout.unpack(v)
        return jnp.sum(p["a"] ** 2) + 3 * jnp.sum(p["c"]) + p["d"] ** 3 + jnp.sum(jnp.abs(p["b"]))

    grad = jax.grad(f)(packed)
    expected = layout.pack({"a": 2 * params["a"], "b": jnp.zeros(2, jnp.complex64),
                            "c": jnp.full((4,), 3.0), "d": 3 * params["d"] ** 2})
    np.testing.assert_allclose(grad["float32"], expected["float32"], rtol=1e-6)
    # the transpose of the split is one concatenation, not a zero-padded copy per leaf
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda v: jnp.sum(layout.unpack(v)["a"] ** 2)))(packed))
    assert " pad[" not in jaxpr


def test_flags_make_a_mask_with_the_layouts_structure():
    params = _mixed()
    packed_mask = ParamLayout.of(params).pack_flags([True, False, False, True])
    np.testing.assert_array_equal(packed_mask["float32"], [1] * 6 + [0] * 4 + [1])
    np.testing.assert_array_equal(packed_mask["complex64"], [0, 0])
    tree_mask = ParamLayout.of(params, packed=False).pack_flags([True, False, False, True])
    assert float(tree_mask["c"]) == 0.0 and float(tree_mask["d"]) == 1.0


def test_unpacked_layout_passes_the_tree_through():
    params = _mixed()
    layout = ParamLayout.of(params, packed=False)
    assert layout.pack(params) is params and layout.unpack(params) is params


def test_bad_input_is_named():
    layout = ParamLayout.of(_mixed())
    with pytest.raises(ValueError, match="params: expected the tree structure"):
        layout.pack({"a": jnp.zeros(3)})
    with pytest.raises(ValueError, match="packed: expected a dict with keys"):
        layout.unpack({"float32": jnp.zeros(11)})
    with pytest.raises(ValueError, match="flags: expected 4 flags, got 2"):
        layout.pack_flags([True, False])
