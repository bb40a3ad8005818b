"""bench/_flops.py: matrix-product FLOP counts of traced programs, and the GPU peak table."""

import os
import sys

import jax
import jax.numpy as jnp
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from _flops import gpu_peak_tflops, matmul_flops  # noqa: E402

from jaxdip.conv import _conv_cpu, _conv_lax, pad2d  # noqa: E402


def _flops(f, *args):
    return matmul_flops(jax.make_jaxpr(f)(*args))


def test_dot_counts_two_flops_per_multiply_add():
    a, b = jnp.zeros((7, 5, 3)), jnp.zeros((7, 3, 4))
    assert _flops(jnp.dot, a[0], b[0]) == 2 * 5 * 3 * 4
    assert _flops(lambda a, b: jnp.einsum("bij,bjk->bik", a, b), a, b) == 2 * 7 * 5 * 3 * 4


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_counts_window_times_input_features_per_group(groups):
    x, k = jnp.zeros((1, 10, 9, 4)), jnp.zeros((3, 2, 4 // groups, 6))
    f = lambda x, k: jax.lax.conv_general_dilated(  # noqa: E731
        x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups)
    assert _flops(f, x, k) == 2 * (8 * 8 * 6) * (3 * 2 * 4 // groups)


def test_cpu_conv_counts_the_lax_conv_plus_its_boundary_rows():
    """jaxdip's CPU convolution multiplies H + 2 rows per kernel row where the output has H."""
    x, k = jnp.zeros((16, 12, 8)), jnp.zeros((3, 3, 8, 5))
    lax_count = _flops(lambda x, k: _conv_lax(pad2d(x, 1, "reflect"), k, 1), x, k)
    assert lax_count == 2 * 16 * 12 * 9 * 8 * 5
    cpu1 = _flops(lambda x, k: _conv_cpu(x, k, None, 1, 1, "reflect"), x, k)
    assert cpu1 * 16 == lax_count * 18
    # Stride 2, 8 x 6 outputs: one product per stride phase, kernel rows 0 and 2 over 9 rows of
    # taps, kernel row 1 over 8 (the lax convolution: 8 rows for each of the 3).
    cpu2 = _flops(lambda x, k: _conv_cpu(x, k, None, 2, 1, "zero"), x, k)
    assert cpu2 == 2 * (9 * 2 + 8 * 1) * 6 * (3 * 8) * 5


def test_gradient_of_a_conv_is_about_three_forwards():
    x, k = jnp.zeros((64, 64, 8)), jnp.zeros((3, 3, 8, 8))
    for conv in (lambda x, k: _conv_cpu(x, k, None, 1, 1, "zero"),
                 lambda x, k: _conv_lax(pad2d(x, 1, "zero"), k, 1)):
        fwd = _flops(conv, x, k)
        step = _flops(jax.grad(lambda x, k: jnp.sum(conv(x, k) ** 2), (0, 1)), x, k)
        assert 2.9 * fwd < step < 3.2 * fwd


def test_strided_conv_input_gradient_skips_the_interleaved_zeros():
    x, k = jnp.zeros((1, 32, 32, 8)), jnp.zeros((3, 3, 8, 8))
    f = lambda x: jax.lax.conv_general_dilated(  # noqa: E731
        x, k, (2, 2), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    fwd = _flops(f, x)
    transpose = jax.linear_transpose(f, x)
    ct = jnp.zeros(jax.eval_shape(f, x).shape)
    grad = _flops(transpose, ct)  # an lhs-dilated convolution: 4x the work with the zeros
    assert fwd <= grad < 1.2 * fwd


def test_scan_multiplies_by_its_length_and_cond_takes_the_larger_branch():
    a = jnp.zeros((4, 4))
    one = _flops(jnp.dot, a, a)
    scanned = lambda a: jax.lax.scan(lambda c, _: (c @ a, None), a, None, length=5)[0]  # noqa: E731
    assert _flops(scanned, a) == 5 * one
    branches = lambda p, a: jax.lax.cond(p, lambda a: a @ a @ a, lambda a: a, a)  # noqa: E731
    assert _flops(branches, True, a) == 2 * one


def test_products_no_output_depends_on_are_not_counted(monkeypatch):
    a = jnp.zeros((4, 4))
    one = _flops(jnp.dot, a, a)
    assert _flops(lambda a: (a @ a, a @ a @ a)[0], a) == one  # the unused product is dropped
    scanned = lambda a: jax.lax.scan(lambda c, _: (c @ a, c @ c), a, None, length=3)[0]  # noqa: E731
    assert _flops(scanned, a) == 3 * one  # so is a scan's unused stacked output
    # The banded convolution with its activation inside: its JVP's jax.jvp also traces the
    # primal products, which nothing reads; the gradient counts as many as with the ReLU outside.
    from jaxdip import conv as conv_module

    monkeypatch.setattr(conv_module, "MIN_BAND_ROWS", 4)
    monkeypatch.setattr(conv_module, "BAND_BYTES", 4 * 16 * 3 * 4 * 4)
    x, k = jnp.ones((16, 16, 4)), jnp.ones((3, 3, 4, 4))
    inside = lambda x, k: jnp.sum(conv_module.conv2d(x, k, pad=1, activation="relu"))  # noqa: E731
    outside = lambda x, k: jnp.sum(jax.nn.relu(conv_module.conv2d(x, k, pad=1)))  # noqa: E731
    assert _flops(jax.grad(inside, (0, 1)), x, k) == _flops(jax.grad(outside, (0, 1)), x, k)


def test_gpu_peak_table_matches_device_names():
    assert gpu_peak_tflops("NVIDIA H200")["gpu"] == "H200"
    assert gpu_peak_tflops("NVIDIA H100 80GB HBM3") == {"gpu": "H100", "fp32": 67.0,
                                                         "tf32_dense": 494.5}
    assert gpu_peak_tflops("NVIDIA H100 PCIe")["gpu"] == "H100 PCIe"
    assert gpu_peak_tflops("cpu") is None
