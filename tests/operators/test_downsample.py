import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdip.operators.downsample import Downsample, downsample_kernel
from tests.operators.adjoint_check import assert_adjoint

KERNELS = ("lanczos2", "bicubic", "box")


def _dip_lanczos2(factor):
    """The DIP reference kernel, written from its formula (1-based i, j; phase 0.5; support 2)."""
    width = 4 * factor + 1
    centre = (width + 1) / 2
    k = np.ones((width - 1, width - 1))
    for i in range(1, width):
        for j in range(1, width):
            for d in (abs(i + 0.5 - centre) / factor, abs(j + 0.5 - centre) / factor):
                k[i - 1, j - 1] *= 2 * np.sin(np.pi * d) * np.sin(np.pi * d / 2) / (np.pi * d) ** 2
    return k / k.sum()


def _keys_cubic(d, a=-0.5):
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def _reference(x, name, f):
    """Edge-pad by (K - f) // 2 before and the rest after, then a strided loop over outputs."""
    k = downsample_kernel(name, f)
    size = k.shape[0]
    before = (size - f) // 2
    pads = ((before, size - f - before), (before, size - f - before), (0, 0))
    xp = np.pad(x.astype(np.float64), pads, mode="edge")
    h, w, c = x.shape
    y = np.zeros((h // f, w // f, c))
    for i in range(h // f):
        for j in range(w // f):
            y[i, j] = np.einsum("uv,uvc->c", k, xp[f * i : f * i + size, f * j : f * j + size])
    return y


@pytest.mark.parametrize("factor", [2, 4])
def test_lanczos2_kernel_matches_dip_formula(factor):
    k = downsample_kernel("lanczos2", factor)
    assert k.shape == (4 * factor, 4 * factor)
    np.testing.assert_allclose(k, _dip_lanczos2(factor), rtol=1e-12, atol=1e-15)


def test_bicubic_and_box_kernels():
    f = 2
    d = (np.arange(8) - 4 + 0.5) / f
    taps = np.array([_keys_cubic(v) for v in d])
    ref = np.outer(taps, taps) / taps.sum() ** 2
    np.testing.assert_allclose(downsample_kernel("bicubic", f), ref)
    np.testing.assert_allclose(downsample_kernel("box", 3), np.full((3, 3), 1 / 9))


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("factor", [2, 3])
def test_matches_reference_adjoint_and_constant(name, factor):
    shape = (3 * factor, 5 * factor, 3)  # odd output sizes
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    op = Downsample(shape, factor, name)
    assert op.out_shape == (3, 5, 3)
    np.testing.assert_allclose(op(x), _reference(x, name, factor), atol=1e-6)
    assert_adjoint(op)
    np.testing.assert_allclose(op(jnp.full(shape, 0.37)), 0.37, atol=1e-6)


def test_box_is_block_mean():
    x = np.random.default_rng(1).random((8, 12, 2)).astype(np.float32)
    ref = x.reshape(2, 4, 3, 4, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(Downsample((8, 12, 2), 4, "box")(x), ref, atol=1e-6)


def test_jit_compiles_once_and_vmap_over_images():
    traces = []

    @jax.jit
    def f(op, x):
        traces.append(1)
        return op(x)

    op = Downsample((16, 16, 3), 4)
    x = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3))
    f(op, x[0])
    f(Downsample((16, 16, 3), 4), x[1])
    assert len(traces) == 1
    ref = _reference(np.asarray(x[1]), "lanczos2", 4)
    np.testing.assert_allclose(jax.vmap(op)(x)[1], ref, atol=1e-6)


def test_bad_inputs_name_argument():
    with pytest.raises(ValueError, match="factor"):
        Downsample((10, 12, 3), 4)
    with pytest.raises(ValueError, match="factor"):
        Downsample((8, 8, 3), 0)
    with pytest.raises(ValueError, match="kernel"):
        Downsample((8, 8, 3), 2, "lanczos3")
    with pytest.raises(ValueError, match="kernel"):
        downsample_kernel("gauss", 2)
    with pytest.raises(ValueError, match="shape"):
        Downsample((8, 8), 2)
