"""Shared dot-product (adjoint) test used for every linear operator.

For a linear operator A the adjoint satisfies Re <A x, y> = Re <x, A^H y> for all x, y
(for complex-linear maps also the imaginary parts agree). We draw random x, y of the operator's
shapes and dtypes and compare both sides in float64 host arithmetic.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def random_like(key, shape, dtype):
    """Standard normal array of ``shape``; complex dtypes get independent real and imag parts."""
    dtype = jnp.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        k1, k2 = jax.random.split(key)
        return (jax.random.normal(k1, shape) + 1j * jax.random.normal(k2, shape)).astype(dtype)
    return jax.random.normal(key, shape, dtype=dtype)


def adjoint_relative_error(op, key=None) -> float:
    """|Re<Ax, y> - Re<x, A^H y>| / (|Re<Ax, y>| + tiny) for random x, y."""
    if key is None:
        key = jax.random.key(1234)
    kx, ky = jax.random.split(key)
    x = random_like(kx, tuple(op.in_shape), op.in_dtype)
    y = random_like(ky, tuple(op.out_shape), op.out_dtype)
    ax = np.asarray(op(x)).astype(np.complex128)
    ahy = np.asarray(op.adjoint(y)).astype(np.complex128)
    assert ax.shape == tuple(op.out_shape), (ax.shape, op.out_shape)
    assert ahy.shape == tuple(op.in_shape), (ahy.shape, op.in_shape)
    lhs = np.vdot(np.asarray(y).astype(np.complex128), ax).real
    rhs = np.vdot(ahy, np.asarray(x).astype(np.complex128)).real
    scale = max(abs(lhs), abs(rhs), np.linalg.norm(ax) * np.linalg.norm(np.asarray(y)) * 1e-3)
    return float(abs(lhs - rhs) / scale)


def assert_adjoint(op, tol: float = 1e-4, key=None) -> None:
    """Assert the dot-product test passes with relative error below ``tol``."""
    err = adjoint_relative_error(op, key)
    assert err < tol, f"{type(op).__name__}: adjoint relative error {err:.2e} >= {tol:.0e}"
