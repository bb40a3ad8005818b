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
