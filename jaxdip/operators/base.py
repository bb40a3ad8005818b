"""Operator base classes: forward models as frozen-dataclass pytrees.

An operator is a frozen dataclass registered as a JAX pytree: array fields are leaves and sizes,
modes and other configuration are static fields (declared with :func:`static_field`). A jitted
function that takes an operator as an argument therefore recompiles only when a static field or an
array *shape* changes, never when new array values (a new mask, a new kernel) are passed.

Linear operators provide ``A(x)``, ``A.adjoint(y)`` (the Hilbert-space adjoint for the real inner
product ``Re <u, v>``; for complex-linear maps this is the conjugate transpose), composition
``A @ B`` and an operator-norm estimate by power iteration.

Example:
    >>> import jax.numpy as jnp
    >>> from jaxdip.operators import Identity
    >>> A = Identity((4, 4, 1))
    >>> A(jnp.ones((4, 4, 1))).shape
    (4, 4, 1)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Operator",
    "LinearOperator",
    "Composed",
    "operator_dataclass",
    "static_field",
    "check_shape",
    "check_finite",
    "power_norm",
]


def static_field(**kwargs: Any) -> Any:
    """A dataclass field that is static (part of the pytree structure, not a leaf)."""
    metadata = dict(kwargs.pop("metadata", {}))
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def operator_dataclass(cls: type) -> type:
    """Make ``cls`` a frozen dataclass and register it as a JAX pytree.

    Fields declared with :func:`static_field` become static metadata (must be hashable); all other
    fields are pytree leaves (arrays). Unflattening sets the fields directly, without ``__init__``:
    JAX rebuilds operators with leaves that are not arrays (tracers, ``jax.jit(...).lower``'s
    argument descriptions), which ``__post_init__``'s checks must not see; the checks ran when the
    operator was first built.
    """
    cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
    fields = dataclasses.fields(cls)
    data = tuple(f.name for f in fields if not f.metadata.get("static"))
    meta = tuple(f.name for f in fields if f.metadata.get("static"))

    def flatten_with_keys(op):
        children = [(jax.tree_util.GetAttrKey(n), getattr(op, n)) for n in data]
        return children, tuple(getattr(op, n) for n in meta)

    def flatten(op):
        return [getattr(op, n) for n in data], tuple(getattr(op, n) for n in meta)

    def unflatten(aux, children):
        op = object.__new__(cls)
        for name, value in (*zip(meta, aux), *zip(data, children)):
            object.__setattr__(op, name, value)
        return op

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


def check_shape(name: str, x: Any, expected: tuple[int, ...]) -> None:
    """Raise ValueError naming ``name`` when ``x.shape`` differs from ``expected``."""
    shape = tuple(np.shape(x))
    if shape != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {shape}")


def check_finite(name: str, x: Any) -> None:
    """Raise ValueError naming ``name`` when a concrete array holds NaN or inf.

    Traced values (inside jit) cannot be inspected and are accepted unchecked.
    """
    if isinstance(x, jax.core.Tracer):
        return
    arr = np.asarray(x)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite values, got {bad} NaN/inf entries")


class Operator:
    """Base class of forward operators ``x -> A(x)`` (linear or not).

    Subclasses are decorated with :func:`operator_dataclass` and implement ``in_shape``,
    ``out_shape`` (properties) and ``apply(x)``. ``in_dtype``/``out_dtype`` default to float32.
    """

    @property
    def in_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def out_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def in_dtype(self) -> jnp.dtype:
        return jnp.dtype(jnp.float32)

    @property
    def out_dtype(self) -> jnp.dtype:
        return jnp.dtype(jnp.float32)

    def apply(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    def __call__(self, x: jax.Array) -> jax.Array:
        if tuple(jnp.shape(x)) != tuple(self.in_shape):
            raise ValueError(
                f"{type(self).__name__}: x expected shape {tuple(self.in_shape)}, "
                f"got {tuple(jnp.shape(x))}"
            )
        return self.apply(x)


class LinearOperator(Operator):
    """A linear (or real-linear) operator with an adjoint.

    ``adjoint`` defaults to ``conj(A^T conj(y))`` computed with :func:`jax.linear_transpose`, which
    is the adjoint for the real inner product ``Re <u, v>``: for complex-linear maps it equals the
    conjugate transpose ``A^H``; for real-to-complex maps it equals ``Re(A^H y)``.
    Subclasses may override ``adjoint`` with a closed form.
    """

    def adjoint(self, y: jax.Array) -> jax.Array:
        if tuple(jnp.shape(y)) != tuple(self.out_shape):
            raise ValueError(
                f"{type(self).__name__}.adjoint: y expected shape {tuple(self.out_shape)}, "
                f"got {tuple(jnp.shape(y))}"
            )
        primal = jax.ShapeDtypeStruct(tuple(self.in_shape), self.in_dtype)
        transpose = jax.linear_transpose(self.apply, primal)
        y = jnp.asarray(y, self.out_dtype)
        (x,) = transpose(jnp.conj(y))
        return jnp.conj(x)

    @property
    def H(self) -> "Adjoint":
        """The adjoint as an operator: ``A.H(y) == A.adjoint(y)``."""
        return Adjoint(self)

    def __matmul__(self, other: Any) -> "Composed":
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Composed(self, other)

    def gram(self, x: jax.Array) -> jax.Array:
        """``A^H A x``."""
        return self.adjoint(self(x))

    def norm(self, key: jax.Array | None = None, iters: int = 100) -> jax.Array:
        """Operator 2-norm ``||A||`` estimated by power iteration on ``A^H A``."""
        return power_norm(self, key=key, iters=iters)


@operator_dataclass
class Composed(LinearOperator):
    """The composition ``(A @ B)(x) = A(B(x))``."""

    outer: LinearOperator
    inner: LinearOperator

    def __post_init__(self) -> None:
        if tuple(self.inner.out_shape) != tuple(self.outer.in_shape):
            raise ValueError(
                f"A @ B: B.out_shape {tuple(self.inner.out_shape)} must equal "
                f"A.in_shape {tuple(self.outer.in_shape)}"
            )

    @property
    def in_shape(self):
        return self.inner.in_shape

    @property
    def out_shape(self):
        return self.outer.out_shape

    @property
    def in_dtype(self):
        return self.inner.in_dtype

    @property
    def out_dtype(self):
        return self.outer.out_dtype

    def apply(self, x):
        return self.outer.apply(self.inner.apply(x))

    def adjoint(self, y):
        return self.inner.adjoint(self.outer.adjoint(y))


@operator_dataclass
class Adjoint(LinearOperator):
    """The adjoint ``A^H`` of a linear operator, as an operator."""

    op: LinearOperator

    @property
    def in_shape(self):
        return self.op.out_shape

    @property
    def out_shape(self):
        return self.op.in_shape

    @property
    def in_dtype(self):
        return self.op.out_dtype

    @property
    def out_dtype(self):
        return self.op.in_dtype

    def apply(self, y):
        return self.op.adjoint(y)

    def adjoint(self, x):
        return self.op(x)


def power_norm(op: LinearOperator, key: jax.Array | None = None, iters: int = 100) -> jax.Array:
    """Estimate ``||A||_2 = sqrt(lambda_max(A^H A))`` with ``iters`` power iterations."""
    if key is None:
        key = jax.random.key(0)
    x = jax.random.normal(key, tuple(op.in_shape), dtype=jnp.float32)
    if jnp.issubdtype(op.in_dtype, jnp.complexfloating):
        k2 = jax.random.fold_in(key, 1)
        x = (x + 1j * jax.random.normal(k2, tuple(op.in_shape))).astype(op.in_dtype)
    x = x / jnp.linalg.norm(x)

    def body(_, v):
        w = op.adjoint(op(v))
        return w / jnp.maximum(jnp.linalg.norm(w), 1e-30)

    x = jax.lax.fori_loop(0, iters, body, x)
    return jnp.sqrt(jnp.linalg.norm(op.adjoint(op(x))))
