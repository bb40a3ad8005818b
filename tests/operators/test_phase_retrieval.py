import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.phase_retrieval import FourierMagnitude, GaussianPhaseRetrieval


def _complex(rng, shape):
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def _numerical_directional_derivative(f, x, d, eps=1e-3):
    return (f(x + eps * d) - f(x - eps * d)) / (2 * eps)


@pytest.mark.parametrize("oversampling", [2, 3])
def test_fourier_magnitude_matches_numpy(oversampling):
    x = _complex(np.random.default_rng(0), (5, 7))
    op = FourierMagnitude((5, 7), oversampling)
    y = op(jnp.asarray(x))
    assert (
        y.shape == op.out_shape == (5 * oversampling, 7 * oversampling) and y.dtype == jnp.float32
    )
    padded = np.zeros(op.out_shape, np.complex128)
    padded[:5, :7] = x
    expected = np.abs(np.fft.fftshift(np.fft.fft2(padded, norm="ortho"))) ** 2
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-4, atol=1e-5)
    assert np.isclose(float(y.sum()), np.sum(np.abs(x) ** 2), rtol=1e-5)  # Parseval


def test_fourier_magnitude_symmetries():
    x = jnp.asarray(_complex(np.random.default_rng(1), (6, 5)))
    op = FourierMagnitude((6, 5))
    y = np.asarray(op(x))
    np.testing.assert_allclose(np.asarray(op(jnp.exp(1j * 0.7) * x)), y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(op(jnp.conj(x[::-1, ::-1]))), y, rtol=1e-4, atol=1e-5)
    # Not invariant to a plain flip or conjugation of a generic complex object.
    assert not np.allclose(np.asarray(op(x[::-1, :])), y, rtol=1e-2)


def test_gaussian_phase_retrieval_matches_numpy_and_scaling():
    op = GaussianPhaseRetrieval(jax.random.key(0), (4, 5), 800)
    g = np.asarray(op.matrix)
    assert g.shape == (800, 20) and g.dtype == np.complex64
    # entries CN(0, 1/m): E|g|^2 = 1/m, real and imaginary parts uncorrelated with equal variance
    assert abs(np.mean(np.abs(g) ** 2) * 800 - 1.0) < 0.02
    assert abs(np.var(g.real) - np.var(g.imag)) * 800 < 0.05
    x = _complex(np.random.default_rng(2), (4, 5))
    y = np.asarray(op(jnp.asarray(x)))
    np.testing.assert_allclose(
        y, np.abs(g.astype(np.complex128) @ x.ravel()) ** 2, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(op(jnp.exp(-2.1j) * jnp.asarray(x))), y, rtol=1e-4, atol=1e-6
    )
    same = GaussianPhaseRetrieval(jax.random.key(0), (4, 5), 800)
    other = GaussianPhaseRetrieval(jax.random.key(1), (4, 5), 800)
    np.testing.assert_array_equal(np.asarray(same.matrix), g)
    assert not np.allclose(np.asarray(other.matrix), g)


@pytest.mark.parametrize(
    "op",
    [FourierMagnitude((4, 6)), GaussianPhaseRetrieval(jax.random.key(3), (4, 6), 50)],
    ids=["fourier", "gaussian"],
)
def test_gradient_is_finite_and_matches_finite_differences(op):
    rng = np.random.default_rng(4)
    x = jnp.asarray(_complex(rng, op.in_shape))
    d = jnp.asarray(_complex(rng, op.in_shape))
    y = op(jnp.asarray(_complex(rng, op.in_shape)))

    def loss(x):
        return jnp.sum((op(x) - y) ** 2)

    grad = jax.jit(jax.grad(loss))(x)
    assert grad.dtype == jnp.complex64 and bool(jnp.all(jnp.isfinite(grad)))
    # JAX convention for real f of complex z: grad = df/dRe - i df/dIm, so the directional
    # derivative along d is Re(sum(grad * d)).
    expected = float(jnp.real(jnp.sum(grad * d)))
    numeric = float(_numerical_directional_derivative(lambda z: loss(z).astype(jnp.float32), x, d))
    assert abs(expected - numeric) < 1e-2 * abs(expected)
    zero_grad = jax.grad(lambda x: jnp.sum(op(x)))(jnp.zeros(op.in_shape, jnp.complex64))
    assert bool(jnp.all(jnp.isfinite(zero_grad)))


def test_jit_and_vmap_over_keys():
    calls = []

    @jax.jit
    def f(op, x):
        calls.append(1)
        return op(x)

    x = jnp.ones((3, 3), jnp.complex64)
    a = f(GaussianPhaseRetrieval(jax.random.key(0), (3, 3), 20), x)
    b = f(GaussianPhaseRetrieval(jax.random.key(1), (3, 3), 20), x)
    f(FourierMagnitude((3, 3)), x)
    f(FourierMagnitude((3, 3)), 2 * x)
    assert len(calls) == 2 and not np.allclose(a, b)
    keys = jax.random.split(jax.random.key(5), 3)
    ops = jax.vmap(lambda k: GaussianPhaseRetrieval(k, (3, 3), 20))(keys)
    ys = jax.vmap(lambda o: o(x))(ops)
    np.testing.assert_allclose(
        np.asarray(ys[1]), np.asarray(GaussianPhaseRetrieval(keys[1], (3, 3), 20)(x)), rtol=1e-5
    )


def test_bad_inputs_name_the_argument():
    for bad in (1, 0, -2):
        with pytest.raises(ValueError, match="oversampling expected an int >= 2, got"):
            FourierMagnitude((4, 4), bad)
    with pytest.raises(TypeError, match="oversampling"):
        FourierMagnitude((4, 4), 2.5)
    with pytest.raises(ValueError, match=r"shape expected \(H, W\)"):
        FourierMagnitude((4, 4, 2))
    with pytest.raises(ValueError, match="shape expected a tuple of positive ints"):
        FourierMagnitude((4, 0))
    with pytest.raises(ValueError, match=r"x expected shape \(4, 4\)"):
        FourierMagnitude((4, 4))(jnp.ones((4, 5), jnp.complex64))
    with pytest.raises(ValueError, match="m expected a positive int"):
        GaussianPhaseRetrieval(jax.random.key(0), (4, 4), 0)
    with pytest.raises(TypeError, match="key expected a jax.random.key"):
        GaussianPhaseRetrieval(0, (4, 4), 8)
    with pytest.raises(ValueError, match="matrix expected shape"):
        GaussianPhaseRetrieval(jax.random.key(0), (4, 4), 8, jnp.ones((8, 15), jnp.complex64))
    with pytest.raises(ValueError, match="matrix.*NaN"):
        GaussianPhaseRetrieval(jax.random.key(0), (1, 1), 1, jnp.asarray([[np.nan]], jnp.complex64))
