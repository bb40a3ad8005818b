"""Jacobian and neural-tangent-kernel spectra of generators.

The tools act on a pure function ``f(params) -> array`` (an image ``G_theta(z)`` of shape
``(H, W, C)``, or a measurement ``A(G_theta(z))``) and its Jacobian ``J = df/dtheta`` at ``params``,
never materialised unless asked for:

- :func:`jvp` ``J v`` (forward mode) and :func:`vjp` ``J^T u`` (reverse mode);
- :func:`top_k_svd` the leading singular triplets by Golub-Kahan-Lanczos bidiagonalisation with full
  reorthogonalisation (``matfree.decomp.bidiag``), :func:`randomized_svd` the randomised range finder
  of Halko, Martinsson and Tropp (SIAM Review 2011);
- :func:`ntk_gram` the exact empirical NTK Gram matrix ``J J^T`` for small outputs;
- spectral-bias tools: :func:`coefficients`, :func:`band_energy` and
  :func:`predicted_variance_curve`, the running-variance curve of linearised gradient descent that
  motivates windowed-variance early stopping (Wang et al., arXiv 2112.06074) and the
  "smooth directions are fitted first" picture of Heckel and Soltanolkotabi (ICML 2020).

Complex outputs (e.g. k-space) are treated as real pairs: ``J`` maps into ``R^(2m)`` with entries
``[Re y, Im y]``, inner products are ``Re <u, v>``, and left singular vectors come back complex with the
output's shape. Every function is pure and can be wrapped in ``jax.jit`` or ``jax.vmap`` (e.g. over
an ensemble of params); :func:`generator_fn` and :func:`measurement_fn` return pytree callables, so
they can be passed to a jitted function as ordinary arguments. Do jit them: eagerly, each operation
of the network's forward and backward is compiled on its own (a first ``jvp`` of a one-scale skip
net at 8x8: 22 s eager, 3.6 s as ``jax.jit(jvp)(f, params, v)`` on a 2-core CPU).

Example:
    >>> import jax
    >>> from flax import nnx
    >>> from jaxdip.models.skip import Skip
    >>> net = Skip(channels_down=(4,), channels_up=(4,), channels_skip=(2,), rngs=nnx.Rngs(0))
    >>> graphdef, params = nnx.split(net, nnx.Param)
    >>> f = generator_fn(graphdef, net.make_input(jax.random.key(1), (8, 8)))
    >>> svd = top_k_svd(jax.random.key(2), f, params, 4)
    >>> svd.singular_values.shape, svd.left_vectors.shape
    ((4,), (4, 8, 8, 3))
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.flatten_util import ravel_pytree
from matfree import decomp

from jaxdip.operators.base import Operator, check_finite, operator_dataclass, static_field

__all__ = [
    "ModelFn",
    "generator_fn",
    "measurement_fn",
    "jvp",
    "vjp",
    "PartialSVD",
    "top_k_svd",
    "randomized_svd",
    "ntk_gram",
    "coefficients",
    "band_energy",
    "predicted_variance_curve",
]

_HIGHEST = jax.lax.Precision.HIGHEST


# ----------------------------------------------------------------------------- model functions


@operator_dataclass
class ModelFn:
    """``params -> G(z)`` or ``params -> A(G(z))`` for a split Flax NNX generator, as a pytree.

    ``graphdef`` is static; ``z`` and the operator's arrays are leaves, so a jitted function taking a
    ``ModelFn`` argument does not recompile for a new ``z`` of the same shape.

    Attributes:
        graphdef: the ``nnx.GraphDef`` from ``nnx.split(model, nnx.Param)``.
        z: the fixed network input.
        operator: an optional forward operator ``A`` (a :class:`jaxdip.operators.base.Operator`).
    """

    graphdef: Any = static_field()
    z: jax.Array
    operator: Any = None

    def __call__(self, params: Any) -> jax.Array:
        x = nnx.merge(self.graphdef, params)(self.z)
        return x if self.operator is None else self.operator(x)


def _check_model_args(graphdef: Any, z: Any) -> jax.Array:
    if not isinstance(graphdef, nnx.GraphDef):
        raise TypeError(
            "graphdef: expected an nnx.GraphDef (from nnx.split(model, nnx.Param)), "
            f"got {type(graphdef).__name__}"
        )
    z = jnp.asarray(z)
    if not jnp.issubdtype(z.dtype, jnp.inexact):
        raise TypeError(f"z: expected a floating or complex array, got dtype {z.dtype}")
    check_finite("z", z)
    return z


def generator_fn(graphdef: Any, z: jax.Array) -> ModelFn:
    """The generator map ``theta -> G_theta(z)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from flax import nnx
        >>> conv = nnx.Conv(2, 1, (3, 3), rngs=nnx.Rngs(0))
        >>> graphdef, params = nnx.split(conv, nnx.Param)
        >>> generator_fn(graphdef, jnp.ones((8, 8, 2)))(params).shape
        (8, 8, 1)
    """
    return ModelFn(graphdef, _check_model_args(graphdef, z))


def measurement_fn(graphdef: Any, z: jax.Array, operator: Operator) -> ModelFn:
    """The measurement map ``theta -> A(G_theta(z))`` for a forward operator ``A``.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from jaxdip.operators.identity import Identity
        >>> conv = nnx.Conv(2, 1, (3, 3), rngs=nnx.Rngs(0))
        >>> graphdef, params = nnx.split(conv, nnx.Param)
        >>> f = measurement_fn(graphdef, jnp.ones((8, 8, 2)), Identity((8, 8, 1)))
        >>> f(params).shape
        (8, 8, 1)
    """
    if not isinstance(operator, Operator):
        raise TypeError(
            f"operator: expected a jaxdip.operators Operator, got {type(operator).__name__}"
        )
    return ModelFn(graphdef, _check_model_args(graphdef, z), operator)


# ----------------------------------------------------------------------------- J v and J^T u


def _output_struct(f: Callable, params: Any) -> jax.ShapeDtypeStruct:
    if not callable(f):
        raise TypeError(f"f: expected a callable params -> array, got {type(f).__name__}")
    out = jax.eval_shape(f, params)
    if not isinstance(out, jax.ShapeDtypeStruct):
        raise TypeError(
            f"f: expected a function returning a single array, got {jax.tree.structure(out)}"
        )
    if not jnp.issubdtype(out.dtype, jnp.inexact):
        raise TypeError(f"f: expected a floating or complex output, got dtype {out.dtype}")
    return out


def _is_complex(out: jax.ShapeDtypeStruct) -> bool:
    return bool(jnp.issubdtype(out.dtype, jnp.complexfloating))


def _real_flat(y: jax.Array) -> jax.Array:
    """Ravel ``y``; complex arrays become ``[Re y, Im y]``."""
    y = jnp.ravel(y)
    if jnp.iscomplexobj(y):
        return jnp.concatenate([y.real, y.imag])
    return y


def _unflat(vec: jax.Array, out: jax.ShapeDtypeStruct) -> jax.Array:
    """Inverse of :func:`_real_flat` for an output described by ``out``."""
    if _is_complex(out):
        m = vec.shape[0] // 2
        vec = jax.lax.complex(vec[:m], vec[m:])
    return vec.reshape(out.shape).astype(out.dtype)


def _check_like(name: str, v: Any, params: Any) -> None:
    if jax.tree.structure(v) != jax.tree.structure(params):
        raise ValueError(
            f"{name}: expected a pytree with the structure of params {jax.tree.structure(params)}, "
            f"got {jax.tree.structure(v)}"
        )
    for a, b in zip(jax.tree.leaves(v), jax.tree.leaves(params)):
        if np.shape(a) != np.shape(b):
            raise ValueError(
                f"{name}: expected leaf shapes of params, got {np.shape(a)} where params has "
                f"{np.shape(b)}"
            )


def jvp(f: Callable, params: Any, v: Any) -> jax.Array:
    """The Jacobian-vector product ``J v = d/de f(params + e v) |_(e=0)``.

    Evaluated as the transpose of the reverse-mode map ``u -> J^T u`` (``jax.linear_transpose`` of
    the ``jax.vjp`` pullback): exact like ``jax.jvp``, and it also works through layers that define
    only a custom VJP (``jax.custom_vjp``), where forward mode raises.

    Args:
        f: a function ``params -> array``.
        params: the point of linearisation (a pytree).
        v: a tangent with the structure and shapes of ``params``.

    Returns:
        ``J v`` with the shape and dtype of ``f(params)``.

    Example:
        >>> import jax.numpy as jnp
        >>> jvp(lambda p: p["w"] ** 2, {"w": jnp.array([1.0, 2.0])}, {"w": jnp.ones(2)})
        Array([2., 4.], dtype=float32)
    """
    out = _output_struct(f, params)
    _check_like("v", v, params)
    y, pullback = jax.vjp(lambda p: _real_flat(f(p)), params)
    transpose = jax.linear_transpose(pullback, jax.ShapeDtypeStruct(y.shape, y.dtype))
    v = jax.tree.map(lambda a, b: jnp.asarray(a, jnp.result_type(b)), v, params)
    (jv,) = transpose((v,))
    return _unflat(jv, out)


def vjp(f: Callable, params: Any, u: jax.Array) -> Any:
    """The adjoint product ``J^T u`` (reverse mode), a pytree shaped like ``params``.

    It satisfies ``<J v, u> = <v, J^T u>`` with ``<a, b> = Re sum conj(a) b`` (so for complex outputs
    ``J^T`` is the adjoint of the real-linear map ``v -> J v``).

    Example:
        >>> import jax.numpy as jnp
        >>> vjp(lambda p: p["w"] ** 2, {"w": jnp.array([1.0, 2.0])}, jnp.ones(2))["w"]
        Array([2., 4.], dtype=float32)
    """
    out = _output_struct(f, params)
    if tuple(np.shape(u)) != tuple(out.shape):
        raise ValueError(f"u: expected the output shape {tuple(out.shape)}, got {np.shape(u)}")
    _, pullback = jax.vjp(lambda p: _real_flat(f(p)), params)
    (g,) = pullback(_real_flat(jnp.asarray(u, out.dtype)))
    return g


def _flat_linearization(f: Callable, params: Any):
    """``(matvec, rmatvec, unravel, out, flat0)``: J and J^T on flat real vectors.

    The forward pass is linearised once (``jax.vjp``); ``matvec`` is the transpose of the pullback
    (see :func:`jvp`), so both maps reuse the stored residuals.
    """
    out = _output_struct(f, params)
    flat0, unravel = ravel_pytree(params)
    y, pullback = jax.vjp(lambda w: _real_flat(f(unravel(w))), flat0)

    def rmatvec(u):
        return pullback(u)[0]

    transpose = jax.linear_transpose(rmatvec, jax.ShapeDtypeStruct(y.shape, y.dtype))
    return (lambda v: transpose(v)[0]), rmatvec, unravel, out, flat0


# ----------------------------------------------------------------------------- partial SVDs


class PartialSVD(NamedTuple):
    """Leading singular triplets ``J v_i = s_i u_i``, ``J^T u_i = s_i v_i`` (descending ``s_i``).

    Attributes:
        singular_values: ``(k,)``, descending.
        left_vectors: ``(k, *out_shape)``, orthonormal (real inner product ``Re <u, v>``).
        right_vectors: a pytree like ``params`` whose leaves have a leading axis ``k``, orthonormal
            after ``ravel_pytree``.
        residuals: ``(k,)`` ``max(||J v_i - s_i u_i||, ||J^T u_i - s_i v_i||)``, an a-posteriori
            check: some singular value of ``J`` lies within this distance of ``s_i``. For
            :func:`top_k_svd` it is the Krylov residual (exact arithmetic; float32 rounding of
            ``J v`` adds about ``1e-7 s_1``).
    """

    singular_values: jax.Array
    left_vectors: jax.Array
    right_vectors: Any
    residuals: jax.Array


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name}: expected an int in {bound}, got {value}")
    return value


def _result(s, left_flat, right_flat, residuals, unravel, out) -> PartialSVD:
    return PartialSVD(
        singular_values=s,
        left_vectors=jax.vmap(lambda u: _unflat(u, out))(left_flat),
        right_vectors=jax.vmap(unravel)(right_flat),
        residuals=residuals,
    )


def top_k_svd(
    key: jax.Array, f: Callable, params: Any, k: int, *, num_matvecs: int | None = None
) -> PartialSVD:
    """The ``k`` leading singular triplets of ``J = df/dparams`` by Golub-Kahan-Lanczos.

    ``num_matvecs`` steps of Golub-Kahan bidiagonalisation (Golub and Kahan 1965) with full
    reorthogonalisation (``matfree.decomp.bidiag``) from a random start ``v_1 ~ N(0, I)`` give
    ``J V = U B``, ``J^T U = V B^T + beta r e_d^T`` with ``B`` upper bidiagonal. With ``B = P S Q^T``
    the Ritz triplets are ``(s_i, U p_i, V q_i)`` and their residual is
    ``||J^T u_i - s_i v_i|| = beta |P[-1, i]|`` (reported in :attr:`PartialSVD.residuals`).
    Each step costs one ``J v`` and one ``J^T u`` of the linearisation computed once at ``params``.

    Args:
        key: ``jax.random.key`` for the start vector.
        f: a function ``params -> array``.
        params: the point of linearisation.
        k: number of triplets.
        num_matvecs: Krylov depth ``d`` (``k <= d <= min(m, n)``); default ``min(2 k + 10, m, n)``.
            Larger is more accurate for the trailing ones of the ``k``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> w = jnp.diag(jnp.arange(1.0, 9.0))
        >>> svd = top_k_svd(jax.random.key(0), lambda p: w @ p, jnp.ones(8), 2, num_matvecs=8)
        >>> [round(float(s), 4) for s in svd.singular_values]
        [8.0, 7.0]
    """
    matvec, _, unravel, out, flat0 = _flat_linearization(f, params)
    n = flat0.shape[0]
    m = 2 * out.size if _is_complex(out) else out.size
    k = _check_int("k", k, 1, min(m, n))
    depth = min(2 * k + 10, m, n) if num_matvecs is None else num_matvecs
    depth = _check_int("num_matvecs", depth, k, min(m, n))

    v0 = jax.random.normal(key, (n,), flat0.dtype)
    bidiag = decomp.bidiag(depth, materialize=True, reortho="full")
    (us, vs), bmat, residual, _ = bidiag(matvec, v0)
    p, s, qt = jnp.linalg.svd(bmat)
    left = jnp.matmul(p[:, :k].T, us, precision=_HIGHEST)
    right = jnp.matmul(qt[:k], vs, precision=_HIGHEST)
    residuals = jnp.linalg.norm(residual) * jnp.abs(p[-1, :k])
    return _result(s[:k], left, right, residuals, unravel, out)


def _apply_rows(fn: Callable, rows: jax.Array, batch_size: int | None) -> jax.Array:
    if batch_size is None:
        return jax.vmap(fn)(rows)
    return jax.lax.map(fn, rows, batch_size=batch_size)


def _orth_rows(rows: jax.Array) -> jax.Array:
    """Orthonormal rows spanning the rows of ``rows`` (thin QR)."""
    q, _ = jnp.linalg.qr(rows.T)
    return q.T


def randomized_svd(
    key: jax.Array,
    f: Callable,
    params: Any,
    k: int,
    *,
    oversample: int = 10,
    power_iters: int = 2,
    batch_size: int | None = None,
) -> PartialSVD:
    """The ``k`` leading singular triplets of ``J`` by randomised subspace iteration.

    Halko, Martinsson and Tropp (SIAM Review 2011), algorithms 4.4 and 5.1, written with ``J v``
    and ``J^T u`` only: with ``l = k + oversample`` Gaussian probes ``Omega`` (``n x l``),
    ``Q = orth(J Omega)``, then ``power_iters`` times ``Q = orth(J orth(J^T Q))`` (re-orthonormalised
    for float32 stability), ``B = Q^T J`` (from ``J^T Q``), ``B = W S V^T`` and ``U = Q W``.
    Costs ``(2 power_iters + 2) l`` products plus ``k`` for :attr:`PartialSVD.residuals`
    (``||J v_i - s_i u_i||``; ``J^T u_i = s_i v_i`` holds exactly).

    Args:
        key: ``jax.random.key`` for the probes.
        f, params, k: as in :func:`top_k_svd`.
        oversample: extra probes ``p`` (``k + p <= min(m, n)``).
        power_iters: power iterations ``q``; the error factor decays like ``(s_(l+1) / s_k)^(2q+1)``.
        batch_size: products evaluated ``batch_size`` at a time (``jax.lax.map``) to bound memory;
            ``None`` vmaps all ``l`` at once.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> w = jnp.diag(jnp.arange(1.0, 9.0))
        >>> svd = randomized_svd(jax.random.key(0), lambda p: w @ p, jnp.ones(8), 2, oversample=4)
        >>> [round(float(s), 3) for s in svd.singular_values]
        [8.0, 7.0]
    """
    matvec, rmatvec, unravel, out, flat0 = _flat_linearization(f, params)
    n = flat0.shape[0]
    m = 2 * out.size if _is_complex(out) else out.size
    k = _check_int("k", k, 1, min(m, n))
    oversample = _check_int("oversample", oversample, 0, min(m, n) - k)
    power_iters = _check_int("power_iters", power_iters, 0)
    if batch_size is not None:
        batch_size = _check_int("batch_size", batch_size, 1)
    l = k + oversample

    omega = jax.random.normal(key, (l, n), flat0.dtype)
    q = _orth_rows(_apply_rows(matvec, omega, batch_size))
    for _ in range(power_iters):
        z = _orth_rows(_apply_rows(rmatvec, q, batch_size))
        q = _orth_rows(_apply_rows(matvec, z, batch_size))
    bt = _apply_rows(rmatvec, q, batch_size)  # (l, n): the rows of B = Q^T J
    w, s, vt = jnp.linalg.svd(bt, full_matrices=False)
    left = jnp.matmul(w[:, :k].T, q, precision=_HIGHEST)
    right = vt[:k]
    jv = _apply_rows(matvec, right, batch_size)
    residuals = jnp.linalg.norm(jv - s[:k, None] * left, axis=1)
    return _result(s[:k], left, right, residuals, unravel, out)


# ----------------------------------------------------------------------------- NTK


def ntk_gram(f: Callable, params: Any) -> jax.Array:
    """The empirical NTK Gram matrix ``K = J J^T`` (``m x m``), exact, for small outputs.

    ``K[a, b] = sum_theta df_a/dtheta df_b/dtheta`` (Jacot, Gabriel, Hongler, NeurIPS 2018) at
    ``params``, computed from the reverse-mode Jacobian (``m`` vector-Jacobian products, memory
    ``m x n``). Rows follow ``f(params).ravel()``; complex outputs give ``2m x 2m`` over
    ``[Re, Im]``. Its eigenvalues are the squared singular values of ``J``.

    Example:
        >>> import jax.numpy as jnp
        >>> ntk_gram(lambda p: p["a"] * p["b"], {"a": jnp.ones(2), "b": 2 * jnp.ones(2)})
        Array([[5., 0.],
               [0., 5.]], dtype=float32)
    """
    _output_struct(f, params)
    jac = jax.jacrev(lambda p: _real_flat(f(p)))(params)
    blocks = [leaf.reshape(leaf.shape[0], -1) for leaf in jax.tree.leaves(jac)]
    return sum(jnp.matmul(b, b.T, precision=_HIGHEST) for b in blocks)


# ----------------------------------------------------------------------------- spectral bias


def coefficients(left_vectors: jax.Array, target: jax.Array) -> jax.Array:
    """``c_i = <u_i, target>`` (``Re sum conj(u_i) target``), shape ``(k,)``.

    Example:
        >>> import jax.numpy as jnp
        >>> coefficients(jnp.eye(3)[:2], jnp.array([3.0, 4.0, 5.0]))
        Array([3., 4.], dtype=float32)
    """
    left_vectors = jnp.asarray(left_vectors)
    target = jnp.asarray(target)
    if left_vectors.ndim < 1 or tuple(left_vectors.shape[1:]) != tuple(target.shape):
        raise ValueError(
            f"left_vectors, target: expected left_vectors of shape (k, *{tuple(target.shape)}) "
            f"for a target of shape {tuple(target.shape)}, got {tuple(left_vectors.shape)}"
        )
    u = left_vectors.reshape(left_vectors.shape[0], -1)
    t = target.ravel()
    return jnp.real(jnp.matmul(jnp.conj(u), t, precision=_HIGHEST))


def _band_edges(bands: int | Sequence[int], k: int) -> tuple[int, ...]:
    if isinstance(bands, (int, np.integer)) and not isinstance(bands, bool):
        nb = _check_int("bands", bands, 1, k)
        return tuple(int(round(i * k / nb)) for i in range(nb + 1))
    edges = tuple(bands)
    if (
        len(edges) < 2
        or not all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in edges)
        or any(b <= a for a, b in zip(edges[:-1], edges[1:]))
        or edges[0] < 0
        or edges[-1] > k
    ):
        raise ValueError(
            f"bands: expected an int or increasing int edges within [0, {k}] (k = number of "
            f"vectors), got {bands!r}"
        )
    return tuple(int(e) for e in edges)


def band_energy(
    left_vectors: jax.Array, target: jax.Array, bands: int | Sequence[int]
) -> jax.Array:
    """Fraction of ``||target||^2`` in bands of (orthonormal) left singular vectors.

    ``E_b = sum_(i in [e_b, e_(b+1))) <u_i, target>^2 / ||target||^2`` for edges ``e``: the spectral
    content of a clean image, of noise or of a measurement ``y`` seen through the generator's
    Jacobian (Heckel and Soltanolkotabi, ICML 2020: natural images concentrate on the leading, smooth
    vectors; noise spreads evenly). ``1 - sum_b E_b`` is the energy outside the bands.

    Args:
        left_vectors: ``(k, *shape)`` orthonormal vectors, e.g. ``PartialSVD.left_vectors``.
        target: an array of ``shape``.
        bands: increasing edges ``(e_0, ..., e_B)`` within ``[0, k]``, or an int ``B`` for ``B``
            near-equal bands covering all ``k`` vectors.

    Returns:
        ``(B,)`` fractions.

    Example:
        >>> import jax.numpy as jnp
        >>> band_energy(jnp.eye(4), jnp.array([1.0, 1.0, 1.0, 1.0]), (0, 1, 4))
        Array([0.25, 0.75], dtype=float32)
    """
    c = coefficients(left_vectors, target)
    check_finite("target", target)
    edges = _band_edges(bands, c.shape[0])
    energy = c**2 / jnp.sum(jnp.abs(jnp.asarray(target)) ** 2)
    return jnp.stack([jnp.sum(energy[a:b]) for a, b in zip(edges[:-1], edges[1:])])


def predicted_variance_curve(
    singular_values: jax.Array,
    coefficients: jax.Array,
    lr: float,
    window: int,
    steps: int,
    *,
    size: int = 1,
) -> jax.Array:
    """Windowed variance ``VAR(t)`` of linearised gradient descent, ``t = 0 .. steps - 1``.

    Model (Wang et al., arXiv 2112.06074, section 3): gradient descent with step ``eta = lr`` on
    ``1/2 ||f(theta) - y||^2`` for the linearisation ``f(theta) = f_0 + J (theta - theta_0)``,
    ``J = sum_i s_i w_i v_i^T``. The residual ``r_t = y - x_t`` of the iterate ``x_t = f(theta_t)``
    obeys ``r_(t+1) = (I - eta J J^T) r_t``, so with ``rho_i = 1 - eta s_i^2`` and
    ``c_i = <w_i, y - f_0>``::

        x_t = const - sum_i c_i rho_i^t w_i .

    ``VAR(t) = 1/W sum_(j<W) ||x_(t+j) - xbar_t||^2 / size`` over the window ``x_t .. x_(t+W-1)``
    (``xbar_t`` its mean; the online ES-WMV detector sees it at step ``t + W - 1``). As the ``w_i`` are
    orthonormal the modes separate; mode ``i`` contributes ``c_i^2 rho_i^(2t)`` times the variance of
    the sequence ``rho_i^j``, ``j = 0 .. W - 1``::

        VAR(t) = sum_i C(W, eta, s_i) c_i^2 (1 - eta s_i^2)^(2t) / size,
        C(W, eta, s) = 1/W sum_j rho^(2j) - (1/W sum_j rho^j)^2
                     = (1 - rho^(2W)) / (W (1 - rho^2)) - (1 - rho^W)^2 / (W eta s^2)^2 .

    ``C`` is evaluated as the two-pass variance of the ``W`` powers (no cancellation as
    ``rho -> 1``). Directions outside the given triplets (small ``s``, ``C ~ 0``) and the part of
    ``y - f_0`` outside the range of ``J`` (constant in ``t``) add nothing.

    Args:
        singular_values: ``(k,)`` ``s_i``.
        coefficients: ``(k,)`` ``c_i = <w_i, y - f_0>`` (see :func:`coefficients`).
        lr: step ``eta > 0`` with ``eta s_i^2 <= 2`` (``<= 1`` for monotone decay). For a mean
            squared error ``1/m ||f - y||^2`` use ``eta = 2 lr_mse / m``.
        window: ``W >= 1``.
        steps: number of window starts.
        size: divide by the number of entries ``m`` to get the ``mean`` over pixels used by ES-WMV
            (default 1: squared Frobenius norms).

    Example:
        >>> import jax.numpy as jnp
        >>> v = predicted_variance_curve(jnp.array([1.0]), jnp.array([2.0]), 0.5, 2, 3)
        >>> [round(float(a), 4) for a in v]  # rho = 1/2: C = 1/16, c^2 = 4, decay 1/4 per step
        [0.25, 0.0625, 0.0156]
    """
    s = jnp.asarray(singular_values)
    c = jnp.asarray(coefficients)
    if s.ndim != 1 or c.shape != s.shape:
        raise ValueError(
            "singular_values, coefficients: expected two 1-D arrays of equal length, got shapes "
            f"{tuple(s.shape)} and {tuple(c.shape)}"
        )
    window = _check_int("window", window, 1)
    steps = _check_int("steps", steps, 1)
    size = _check_int("size", size, 1)
    if not isinstance(lr, jax.core.Tracer):
        if not float(lr) > 0:
            raise ValueError(f"lr: expected a positive step size, got {lr}")
        if not isinstance(s, jax.core.Tracer) and s.size and float(lr) * float(jnp.max(s)) ** 2 > 2:
            raise ValueError(
                f"lr: expected lr * max(singular_values)^2 <= 2 (stable gradient descent), got "
                f"{float(lr)} * {float(jnp.max(s)) ** 2:.4g}"
            )
    rho = 1.0 - lr * s**2
    # powers rho^j, j = 0 .. W-1, by cumulative products (exact for rho <= 0 too)
    steps_rho = jnp.broadcast_to(rho[:, None], (rho.shape[0], window - 1))
    powers = jnp.concatenate([jnp.ones_like(rho)[:, None], jnp.cumprod(steps_rho, axis=1)], axis=1)
    cw = jnp.mean((powers - jnp.mean(powers, axis=1, keepdims=True)) ** 2, axis=1)
    t = jnp.arange(steps, dtype=rho.dtype)
    decay = jnp.power(rho[:, None] ** 2, t[None, :])
    return jnp.sum((cw * c**2)[:, None] * decay, axis=0) / size
