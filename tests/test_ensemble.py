import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxdip import fit as engine
from jaxdip.ensemble import calibration, fit_ensemble, sparsification
from jaxdip.operators import Identity
from tests.compile_events import compiles_of


class MaskedNet(nnx.Module):
    """Coordinate MLP whose output is forced to 0 in the left half (members agree there)."""

    def __init__(self, *, rngs):
        self.l1 = nnx.Linear(2, 16, rngs=rngs)
        self.l2 = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, z):
        x = jax.nn.sigmoid(self.l2(jnp.tanh(self.l1(z))))
        keep = (jnp.arange(z.shape[1]) >= z.shape[1] // 2).astype(x.dtype)
        return x * keep[None, :, None]

    def make_input(self, key, out_hw):
        return jax.random.uniform(key, (*out_hw, 2), minval=-1, maxval=1)


def _y():
    u = jnp.linspace(0, 1, 10)
    return (0.3 + 0.4 * jnp.outer(u, u))[..., None]


def test_single_member_equals_plain_fit():
    y = _y()
    key = jax.random.key(5)
    ens = fit_ensemble(key[None], MaskedNet, Identity(y.shape), y, steps=12, progress=False)
    single = engine.fit(key, MaskedNet, Identity(y.shape), y, steps=12, progress=False)
    np.testing.assert_allclose(ens.members[0], single.x, atol=1e-6)
    np.testing.assert_allclose(ens.loss[0], single.history["loss"], rtol=1e-5)


def test_members_differ_and_std_zero_where_they_agree():
    y = _y()
    keys = jax.random.split(jax.random.key(0), 4)
    ens = fit_ensemble(keys, MaskedNet, Identity(y.shape), y, steps=10, group_size=3,
                       x_true=y, progress=False)
    assert ens.members.shape == (4, 10, 10, 1)
    assert np.abs(ens.members[0] - ens.members[1]).max() > 1e-3
    assert np.all(ens.std[:, :5] == 0) and np.all(ens.std[:, 5:] > 0)
    np.testing.assert_allclose(ens.mean, ens.members.mean(0), atol=1e-7)
    assert set(ens.calibration) == {"pearson", "spearman", "coverage_2std", "ause"}


def test_calibration_numbers():
    rng = np.random.default_rng(0)
    std = rng.uniform(0.01, 0.2, size=(40, 40, 1))
    truth = rng.uniform(size=std.shape)
    mean = truth + std * rng.normal(size=std.shape)  # errors drawn with exactly this std
    cal = calibration(mean, std, truth)
    assert abs(cal["coverage_2std"] - 0.954) < 0.02
    assert cal["spearman"] > 0.4 and cal["pearson"] > 0.4
    f, curve, oracle, ause = sparsification(np.abs(mean - truth), std)
    assert np.all(oracle <= curve + 1e-12) and ause > 0
    _, _, _, ause_perfect = sparsification(np.abs(mean - truth), np.abs(mean - truth))
    assert ause_perfect < 1e-12
    with pytest.raises(ValueError, match="x_true"):
        calibration(mean, std, truth[:-1])


def test_bad_keys():
    y = _y()
    with pytest.raises(TypeError, match="keys"):
        fit_ensemble(jnp.arange(3), MaskedNet, Identity(y.shape), y, steps=3, progress=False)


def test_sharded_over_4_cpu_devices_equals_single_device():
    code = textwrap.dedent(
        """
        import jax, numpy as np
        from tests.test_ensemble import MaskedNet, _y
        from jaxdip.ensemble import fit_ensemble
        from jaxdip.operators import Identity
        y = _y()
        keys = jax.random.split(jax.random.key(0), 4)
        ens = fit_ensemble(keys, MaskedNet, Identity(y.shape), y, steps=8, progress=False)
        np.save(OUT, ens.members)
        print(len(jax.devices()), ens.devices)
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = {}
    for n in (1, 4):
        out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"jaxdip_ens_{os.getpid()}_{n}.npy")
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n}"
        env = dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")
        proc = subprocess.run([sys.executable, "-c", f"OUT={out!r}\n" + code], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.split()[-2:] == [str(n), str(n)]
        results[n] = np.load(out)
        os.remove(out)
    np.testing.assert_allclose(results[4], results[1], atol=1e-5)


def test_members_loop_compiles_once_per_group_shape(monkeypatch):
    released = []
    with compiles_of("_run_members") as compiles:
        monkeypatch.setattr("jaxdip.ensemble.heap.release_free_heap",
                            lambda: released.append(len(compiles)))
        y = (0.3 + 0.4 * jnp.outer(jnp.linspace(0, 1, 9), jnp.linspace(0, 1, 7)))[..., None]
        keys = jax.random.split(jax.random.key(1), 2)
        fit_ensemble(keys, MaskedNet, Identity(y.shape), y, steps=25, chunk=10, progress=False)
    # Compiled ahead of the loop (then the heap is released), and the three chunks reuse it.
    assert len(compiles) == 1
    assert released == [1]
