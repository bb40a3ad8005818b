import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage, signal

from jaxdip.operators.blur import Blur
from tests.operators.adjoint_check import assert_adjoint

SHAPE = (7, 9, 3)
NDIMAGE_MODE = {"circular": "wrap", "reflect": "reflect", "zero": "constant"}
# odd, even-by-odd, and larger-than-the-image kernels
KERNEL_SIZES = [(3, 3), (4, 5), (9, 11)]


def _image(seed=0):
    return np.random.default_rng(seed).normal(size=SHAPE).astype(np.float32)


def _kernel(size, seed=1):
    return np.random.default_rng(seed).normal(size=size).astype(np.float32)


def _reference(x, k, boundary):
    x = x.astype(np.float64)
    k = k.astype(np.float64)
    if boundary == "valid":
        channels = [signal.convolve2d(x[..., c], k, mode="valid") for c in range(x.shape[-1])]
        return np.stack(channels, -1)
    mode = NDIMAGE_MODE[boundary]
    return np.stack([ndimage.convolve(x[..., c], k, mode=mode) for c in range(x.shape[-1])], -1)


CASES = [
    (boundary, size)
    for boundary in ("circular", "reflect", "zero", "valid")
    for size in KERNEL_SIZES
    if boundary != "valid" or (size[0] <= SHAPE[0] and size[1] <= SHAPE[1])
]


@pytest.mark.parametrize("boundary, size", CASES)
def test_matches_scipy_and_adjoint(boundary, size):
    x, k = _image(), _kernel(size)
    ref = _reference(x, k, boundary)
    for method in ("direct", "fft"):
        op = Blur(k, SHAPE, boundary=boundary, method=method)
        assert op.out_shape == ref.shape
        np.testing.assert_allclose(op(x), ref, atol=2e-5 * np.abs(ref).max())
        assert_adjoint(op)


def test_even_kernel_centre_and_scipy_same_crop():
    # centre index kh // 2: a 2-tap kernel [a, b] gives y[i] = a x[i + 1] + b x[i]
    x = np.arange(5, dtype=np.float32).reshape(5, 1, 1)
    y = np.asarray(Blur(np.array([[1.0], [10.0]], np.float32), (5, 1, 1), "zero")(x))[:, 0, 0]
    np.testing.assert_allclose(y, [1, 12, 23, 34, 40])


def test_odd_kernel_matches_scipy_same_crop():
    # odd kernels: the 'same' output is the centre crop of the full convolution (scipy.signal)
    x, k = _image(3), _kernel((3, 5), 4)
    ref = np.stack([signal.convolve2d(x[..., c], k, mode="same") for c in range(3)], -1)
    np.testing.assert_allclose(Blur(k, SHAPE, "zero")(x), ref, atol=1e-5)


def test_is_convolution_not_correlation():
    k = np.zeros((3, 3), np.float32)
    k[0, 0] = 1.0  # a shift by (+1, +1) under convolution
    x = np.zeros((5, 5, 1), np.float32)
    x[2, 2, 0] = 1.0
    y = np.asarray(Blur(k, (5, 5, 1), "zero")(x))
    assert y[1, 1, 0] == 1.0 and y.sum() == 1.0


def test_auto_method_switches_to_fft_and_agrees():
    k = np.random.default_rng(5).random((17, 16)).astype(np.float32)
    x = np.random.default_rng(6).random((32, 33, 2)).astype(np.float32)
    auto = Blur(k, (32, 33, 2), boundary="reflect")
    direct = Blur(k, (32, 33, 2), boundary="reflect", method="direct")
    assert auto.uses_fft and not direct.uses_fft
    assert not Blur(k[:15, :15], (32, 33, 2)).uses_fft
    np.testing.assert_allclose(auto(x), direct(x), atol=1e-5 * float(k.sum()))


def test_jit_does_not_recompile_for_new_kernel():
    traces = []

    @jax.jit
    def f(op, x):
        traces.append(1)
        return op(x)

    x = jnp.asarray(_image())
    f(Blur(_kernel((3, 4), 1), SHAPE, "reflect"), x)
    k2 = _kernel((3, 4), 2)
    out = f(Blur(k2, SHAPE, "reflect"), 2 * x)
    np.testing.assert_allclose(out, _reference(2 * _image(), k2, "reflect"), atol=1e-4)
    assert len(traces) == 1


def test_vmap_over_kernels_and_images():
    kernels = jnp.stack([_kernel((3, 3), s) for s in range(3)])
    ops = jax.vmap(lambda k: Blur(k, SHAPE, "valid"))(kernels)
    assert ops.out_shape == (5, 7, 3)
    x = _image()
    out = jax.vmap(lambda o: o(x))(ops)
    for i in range(3):
        ref = _reference(x, np.asarray(kernels[i]), "valid")
        np.testing.assert_allclose(out[i], ref, atol=1e-5)
    op = Blur(kernels[0], SHAPE, "circular")
    xs = jnp.stack([_image(s) for s in range(2)])
    np.testing.assert_allclose(jax.vmap(op)(xs)[1], op(xs[1]), atol=1e-6)


def test_bad_inputs_name_argument():
    with pytest.raises(ValueError, match="kernel"):
        Blur(jnp.ones(3), SHAPE)
    with pytest.raises(ValueError, match="kernel"):
        Blur(jnp.ones((3, 3, 3)), SHAPE)
    with pytest.raises(ValueError, match="kernel: expected finite"):
        Blur(jnp.ones((3, 3)).at[1, 1].set(jnp.nan), SHAPE)
    with pytest.raises(TypeError, match="kernel"):
        Blur(jnp.ones((3, 3), jnp.complex64), SHAPE)
    with pytest.raises(ValueError, match="boundary"):
        Blur(jnp.ones((3, 3)), SHAPE, boundary="symmetric")
    with pytest.raises(ValueError, match="method"):
        Blur(jnp.ones((3, 3)), SHAPE, method="winograd")
    with pytest.raises(ValueError, match="shape"):
        Blur(jnp.ones((3, 3)), (7, 9))
    with pytest.raises(ValueError, match="kernel"):
        Blur(jnp.ones((8, 3)), SHAPE, boundary="valid")
