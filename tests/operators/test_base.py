import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators import Identity, LinearOperator, operator_dataclass, static_field
from tests.operators.adjoint_check import adjoint_relative_error, assert_adjoint


@operator_dataclass
class _Scale(LinearOperator):
    """Elementwise multiply by a (possibly complex) array: a minimal operator for base tests."""

    w: jax.Array
    dtype: str = static_field(default="float32")

    @property
    def in_shape(self):
        return tuple(self.w.shape)

    @property
    def out_shape(self):
        return tuple(self.w.shape)

    @property
    def in_dtype(self):
        return jnp.dtype(self.dtype)

    @property
    def out_dtype(self):
        return jnp.dtype(self.dtype)

    def apply(self, x):
        return self.w * x


@operator_dataclass
class _Broken(_Scale):
    def adjoint(self, y):  # deliberately wrong: ignores the weights
        return y


def test_identity_adjoint_and_norm():
    op = Identity((5, 7, 3))
    assert_adjoint(op)
    assert abs(float(op.norm()) - 1.0) < 1e-4


def test_default_adjoint_complex_is_conjugate_transpose():
    w = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)) + 1j, jnp.complex64)
    op = _Scale(w, "complex64")
    y = jnp.ones((5, 3), jnp.complex64)
    np.testing.assert_allclose(op.adjoint(y), jnp.conj(w) * y, rtol=1e-6)
    assert_adjoint(op)


def test_dot_test_detects_wrong_adjoint():
    w = jnp.linspace(0.5, 3.0, 15).reshape(5, 3)
    assert adjoint_relative_error(_Broken(w)) > 1e-2


def test_composition_and_norm():
    w1 = jnp.linspace(1.0, 2.0, 12).reshape(4, 3)
    w2 = jnp.linspace(-3.0, 0.5, 12).reshape(4, 3)
    op = _Scale(w1) @ _Scale(w2)
    x = jnp.ones((4, 3))
    np.testing.assert_allclose(op(x), w1 * w2, rtol=1e-6)
    assert_adjoint(op)
    assert abs(float(op.norm()) - float(jnp.max(jnp.abs(w1 * w2)))) < 1e-3
    assert_adjoint(op.H)


def test_shape_errors_name_argument():
    with pytest.raises(ValueError, match=r"x expected shape \(5, 7, 3\), got \(5, 7\)"):
        Identity((5, 7, 3))(jnp.zeros((5, 7)))
    with pytest.raises(ValueError, match="in_shape"):
        _Scale(jnp.ones((4, 3))) @ _Scale(jnp.ones((3, 3)))


def test_operator_is_jit_argument_without_recompiling():
    calls = []

    @jax.jit
    def f(op, x):
        calls.append(1)
        return op(x)

    f(_Scale(jnp.ones((4, 3))), jnp.ones((4, 3)))
    out = f(_Scale(2 * jnp.ones((4, 3))), jnp.ones((4, 3)))
    np.testing.assert_allclose(out, 2.0)
    assert len(calls) == 1
    ops = jax.vmap(lambda s: _Scale(s * jnp.ones((4, 3))))(jnp.arange(3.0))
    out = jax.vmap(lambda o: o(jnp.ones((4, 3))))(ops)
    assert out.shape == (3, 4, 3)


def _every_operator():
    from jaxdip.operators import (
        MRI, Blur, ChannelsToComplex, Downsample, FourierMagnitude, GaussianCS,
        GaussianPhaseRetrieval, Inpainting, Integration, Matrix, Radon, StructuredCS,
    )

    mask = (np.arange(64).reshape(8, 8) % 3 == 0).astype(np.float32)
    return [
        Identity((8, 8, 3)),
        Inpainting(mask[..., None], channels=3),
        Blur(np.ones((3, 3), np.float32) / 9, (8, 8, 3), boundary="reflect"),
        Downsample((8, 8, 3), 2),
        GaussianCS(jax.random.key(0), (8, 8, 1), 20),
        StructuredCS(jax.random.key(1), (8, 8, 1), 20),
        MRI(mask),
        ChannelsToComplex((8, 8)),
        FourierMagnitude((8, 8)),
        GaussianPhaseRetrieval(jax.random.key(2), (8, 8), 100),
        Radon(8, jnp.linspace(0.0, 180.0, 6, endpoint=False)),
        Integration(9),
        Matrix(jnp.arange(12.0).reshape(4, 3), in_shape=(3, 1)),
    ]


@pytest.mark.parametrize("op", _every_operator(), ids=lambda op: type(op).__name__)
def test_operator_rebuilt_by_jax_skips_its_checks(op):
    # jax.jit(...).lower rebuilds its arguments with argument descriptions as leaves, which an
    # operator's checks reject (MRI: "mask expected a real numeric array"); the rebuilt operator
    # must come from its fields, and the compiled call must agree with the eager one.
    leaves, treedef = jax.tree.flatten(op)
    rebuilt = jax.tree.unflatten(treedef, [object()] * len(leaves))
    assert type(rebuilt) is type(op)
    dtype = getattr(op, "in_dtype", jnp.float32)
    x = jax.random.normal(jax.random.key(3), op.in_shape).astype(dtype)
    f = jax.jit(lambda o, v: o(v))
    np.testing.assert_allclose(f.lower(op, x).compile()(op, x), op(x), rtol=1e-5, atol=1e-5)
