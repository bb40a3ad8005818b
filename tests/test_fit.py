import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jaxdip import fit as engine
from jaxdip.operators import Identity
from tests.compile_events import compiles_of


class TinyNet(nnx.Module):
    """A small coordinate MLP: enough to test the engine without the big generators."""

    def __init__(self, out_channels=1, hidden=16, *, rngs):
        self.l1 = nnx.Linear(2, hidden, rngs=rngs)
        self.l2 = nnx.Linear(hidden, out_channels, rngs=rngs)

    def __call__(self, z):
        return jax.nn.sigmoid(self.l2(jnp.tanh(self.l1(z))))

    def make_input(self, key, out_hw):
        h, w = out_hw
        u, v = jnp.meshgrid(jnp.linspace(-1, 1, h), jnp.linspace(-1, 1, w), indexing="ij")
        return jnp.stack([u, v], -1) + 0.01 * jax.random.normal(key, (h, w, 2))


def _target(h=12, w=12):
    u, v = jnp.meshgrid(jnp.linspace(0, 1, h), jnp.linspace(0, 1, w), indexing="ij")
    return (0.2 + 0.6 * u * v)[..., None].astype(jnp.float32)


def test_fit_decreases_loss_and_tracks_psnr():
    x_true = _target()
    y = x_true + 0.05 * jax.random.normal(jax.random.key(1), x_true.shape)
    res = engine.fit(jax.random.key(0), TinyNet, Identity(y.shape), y, steps=60, x_true=x_true,
                     ema=0.9, progress=False)
    loss = res.history["loss"]
    assert res.steps == 60 and len(loss) == 60
    assert loss[-1] < 0.5 * loss[0]
    assert res.history["psnr"][-1] > res.history["psnr"][0] + 3
    assert res.best_psnr >= res.history["psnr"][-1]
    assert len(res.history["ssim"]) >= 1
    assert res.x.shape == y.shape and res.x_ema.shape == y.shape
    # res.x is the output at the final state (reused from the last chunk's SSIM computation)
    np.testing.assert_allclose(res.x, engine.output(res.state), atol=1e-6)


def test_fit_is_deterministic_and_key_dependent():
    y = _target()
    a = engine.fit(jax.random.key(3), TinyNet, Identity(y.shape), y, steps=15, progress=False)
    b = engine.fit(jax.random.key(3), TinyNet, Identity(y.shape), y, steps=15, progress=False)
    c = engine.fit(jax.random.key(4), TinyNet, Identity(y.shape), y, steps=15, progress=False)
    np.testing.assert_array_equal(a.x, b.x)
    assert np.abs(a.x - c.x).max() > 1e-4


def test_fit_donates_its_own_state_and_keeps_the_callers_arrays():
    y = _target()
    x_true = y + 0.0
    net = TinyNet(rngs=nnx.Rngs(0))
    kernel = net.l1.kernel.get_value()  # the very array init splits off the module
    code = net.make_input(jax.random.key(2), y.shape[:2])
    res = engine.fit(jax.random.key(0), net, Identity(y.shape), y, steps=25, chunk=10,
                     input_code=code, x_true=x_true, progress=False)
    assert res.steps == 25
    # the caller's arrays are alive and unchanged: the model's weights, y, x_true, the code
    for a in (kernel, y, x_true, code):
        assert not a.is_deleted()
    assert net.l1.kernel.get_value() is kernel
    assert net(code).shape == y.shape
    # a chunk writes the new state over the old one: the old state's buffers are donated
    carry, data = engine._split(res.state)
    carry = engine._own(carry)
    new, _ = engine._run_chunk(carry, data, 2, jnp.asarray(100, jnp.int32))
    assert all(a.is_deleted() for a in jax.tree.leaves(carry.packed_params))
    assert not any(a.is_deleted() for a in jax.tree.leaves(data))
    assert int(new.step) == 27 and not any(a.is_deleted() for a in jax.tree.leaves(res.state))


def test_new_measurement_and_operator_do_not_recompile():
    y = _target()
    opt = optax.adam(1e-2)
    engine.fit(jax.random.key(0), TinyNet, Identity(y.shape), y, steps=10, optimizer=opt,
               input_noise=0.01, progress=False)
    before = engine._run_chunk._cache_size(), engine._build._cache_size()
    engine.fit(jax.random.key(1), TinyNet, Identity(y.shape), 1 - y, steps=10, optimizer=opt,
               input_noise=0.02, progress=False)
    # Neither the fitting loop nor the initial-state builder recompiles (a new key, y, noise).
    assert (engine._run_chunk._cache_size(), engine._build._cache_size()) == before


def test_init_for_a_new_image_shape_compiles_only_the_state_builder():
    net = TinyNet(rngs=nnx.Rngs(0))
    y1, y2 = (jax.device_put(np.full(shape, 0.5, np.float32)) for shape in ((9, 7, 1), (11, 5, 1)))
    engine.init(jax.random.key(0), net, Identity(y1.shape), y1)
    with compiles_of("") as every, compiles_of("_build") as build:
        state = engine.init(jax.random.key(0), net, Identity(y2.shape), y2)
    assert len(every) == len(build) == 1
    assert state.x_ema.shape == state.x_best.shape == (11, 5, 1) and not state.x_ema.any()
    assert int(state.step) == 0 and int(state.diverged_step) == -1 and state.best_loss == np.inf
    assert not (state.stopped or state.diverged)


def test_input_noise_jitters_the_code_only_when_positive():
    y = _target()
    for sigma, jittered in ((0.0, False), (0.3, True)):
        s0 = engine.init(jax.random.key(0), TinyNet, Identity(y.shape), y, input_noise=sigma)
        s1, _ = engine.step(s0)  # x_ema after the first step is that step's output
        gap = float(jnp.max(jnp.abs(s1.x_ema - engine.output(s0))))
        assert (gap > 1e-3) if jittered else (gap < 1e-6), (sigma, gap)


def test_nan_guard_keeps_last_finite_iterate():
    y = jnp.ones((8, 8, 1))

    def exploding(pred, target):
        mse = jnp.mean((pred - target) ** 2)
        return jnp.where(jnp.mean(pred) > 0.7, jnp.nan, mse)

    with pytest.warns(RuntimeWarning, match="not finite"):
        res = engine.fit(jax.random.key(0), TinyNet, Identity(y.shape), y, steps=400,
                         loss=exploding, optimizer=optax.adam(5e-2), progress=False)
    assert res.diverged_step is not None and 0 < res.diverged_step < 400
    assert res.steps == res.diverged_step
    assert np.all(np.isfinite(res.x)) and float(np.mean(res.x)) <= 0.7 + 1e-6
    assert len(res.history["loss"]) == res.diverged_step


def test_nan_guard_catches_a_non_finite_gradient_with_a_finite_loss():
    y = _target()

    def loss(pred, target):
        # Finite value, NaN gradient from the first step: d sqrt(u)/du = inf at u = 0, times 0.
        u = jnp.abs(pred[0, 0, 0] - jax.lax.stop_gradient(pred[0, 0, 0]))
        return jnp.mean((pred - target) ** 2) + jnp.sqrt(u)

    with pytest.warns(RuntimeWarning, match="not finite"):
        res = engine.fit(jax.random.key(0), TinyNet, Identity(y.shape), y, steps=20, loss=loss,
                         progress=False)
    assert res.diverged_step == 0 and res.steps == 0
    assert np.all(np.isfinite(res.x))


def test_run_inside_user_jit_and_vmap_matches_sequential():
    y = _target()
    A = Identity(y.shape)
    keys = jax.random.split(jax.random.key(0), 3)
    states = jax.vmap(lambda k: engine.init(k, TinyNet, A, y))(keys)
    states, aux = jax.jit(jax.vmap(lambda s: engine.run(s, 5)))(states)
    assert aux.loss.shape == (3, 5)
    single = engine.init(keys[1], TinyNet, A, y)
    single, single_aux = jax.jit(lambda s: engine.run(s, 5))(single)
    np.testing.assert_allclose(aux.loss[1], single_aux.loss, rtol=1e-5)
    x = jax.vmap(engine.output)(states)
    np.testing.assert_allclose(x[1], engine.output(single), atol=1e-6)


def test_factory_runs_eagerly_outside_a_trace_with_the_traced_numbers(monkeypatch):
    # Outside a trace init builds the model eagerly, so the compiled state builder holds no model
    # initialisation; under vmap (seed ensembles) the factory is traced inside it. Same numbers.
    from jaxdip.models.deep_decoder import DeepDecoder

    def factory(rngs):
        return DeepDecoder(channels=8, num_blocks=3, out_channels=1, rngs=rngs)

    y = _target(16, 16)
    A = Identity(y.shape)
    key = jax.random.key(4)
    built = []
    monkeypatch.setattr(engine, "_build", _recording(engine._build, built))
    eager = engine.init(key, factory, A, y)
    traced = jax.vmap(lambda k: engine.init(k, factory, A, y))(key[None])
    assert built[0] is None and built[1] is not None  # the factory reached the builder traced only
    for a, b in zip(jax.tree.leaves(eager.packed_params), jax.tree.leaves(traced.packed_params)):
        np.testing.assert_allclose(a, b[0], rtol=1e-6, atol=1e-7)  # up to the last bit
    np.testing.assert_allclose(eager.z, traced.z[0], rtol=1e-6, atol=1e-7)


def _recording(build, seen):
    def wrapper(*args, **kwargs):
        seen.append(kwargs["factory"])
        return build(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("pack", [True, False])
def test_optimize_input_only_and_param_filter(pack):
    y = _target()
    A = Identity(y.shape)
    s0 = engine.init(jax.random.key(0), TinyNet, A, y, optimize="input", pack_params=pack)
    s1, _ = engine.run(s0, 3)
    for a, b in zip(jax.tree.leaves(s0.params), jax.tree.leaves(s1.params)):
        np.testing.assert_array_equal(a, b)
    assert np.abs(np.asarray(s1.z - s0.z)).max() > 0

    only_l2 = lambda path, _: path[0] == "l2"
    # clipping by the global norm sees only the trained entries' gradients
    opt = optax.chain(optax.clip_by_global_norm(1e-3), optax.sgd(1.0))
    s0 = engine.init(jax.random.key(0), TinyNet, A, y, param_filter=only_l2, pack_params=pack,
                     optimizer=opt)
    s1, _ = engine.run(s0, 1)
    moved = jax.tree.map(lambda a, b: jnp.sum((a - b) ** 2), s1.params, s0.params)
    np.testing.assert_allclose(np.sqrt(sum(jax.tree.leaves(moved))), 1e-3, rtol=1e-4)
    s1, _ = engine.run(s0, 3)
    np.testing.assert_array_equal(s0.params["l1"]["kernel"][...], s1.params["l1"]["kernel"][...])
    assert np.abs(np.asarray(s0.params["l2"]["kernel"][...] - s1.params["l2"]["kernel"][...])).max() > 0


def test_packed_parameters_fit_like_the_tree_and_adam_runs_once_over_them():
    y = _target()
    A = Identity(y.shape)
    kw = dict(steps=40, x_true=y, progress=False, optimizer=optax.adamw(2e-2, weight_decay=1e-2))
    packed = engine.fit(jax.random.key(0), TinyNet, A, y, **kw)
    tree = engine.fit(jax.random.key(0), TinyNet, A, y, pack_params=False, **kw)
    np.testing.assert_allclose(packed.history["loss"], tree.history["loss"], rtol=2e-5)
    for a, b in zip(jax.tree.leaves(packed.params), jax.tree.leaves(tree.params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert jax.tree.structure(packed.params) == jax.tree.structure(tree.params)
    # Adam's square root: once over the packed vector, once per parameter array for the tree
    for state, count in ((packed.state, 1), (tree.state, 4)):
        hlo = jax.jit(engine.step).lower(state).as_text()
        assert hlo.count("stablehlo.sqrt") == count


def test_bad_arguments_are_named():
    y = _target()
    A = Identity(y.shape)
    with pytest.raises(ValueError, match="y: expected shape"):
        engine.fit(jax.random.key(0), TinyNet, A, y[:-1], steps=5)
    with pytest.raises(ValueError, match="steps"):
        engine.fit(jax.random.key(0), TinyNet, A, y, steps=0)
    with pytest.raises(ValueError, match="optimize"):
        engine.init(jax.random.key(0), TinyNet, A, y, optimize="all")
    with pytest.raises(TypeError, match="optimizer"):
        engine.init(jax.random.key(0), TinyNet, A, y, optimizer="adam")
    with pytest.raises(ValueError, match="loss"):
        engine.init(jax.random.key(0), TinyNet, A, y, loss="mae")
    with pytest.raises(ValueError, match="y: expected finite"):
        engine.init(jax.random.key(0), TinyNet, A, y.at[0, 0, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="model: output shape"):
        engine.init(jax.random.key(0), lambda rngs: TinyNet(3, rngs=rngs), A, y)
    with pytest.raises(TypeError, match="pack_params: expected a bool"):
        engine.init(jax.random.key(0), TinyNet, A, y, pack_params="yes")
    with pytest.raises(TypeError, match="param_filter: expected a callable"):
        engine.init(jax.random.key(0), TinyNet, A, y, param_filter="l2")


def test_stopping_rule_stops_and_masked_chunk_is_exact():
    from jaxdip.stopping import EMV

    y = _target() + 0.1 * jax.random.normal(jax.random.key(2), (12, 12, 1))
    rule = EMV(alpha=0.1, patience=15, start=5)
    kw = dict(steps=300, stopping=rule, x_true=_target(), optimizer=optax.adam(3e-2), progress=False)
    big = engine.fit(jax.random.key(0), TinyNet, Identity(y.shape), y, chunk=50, **kw)
    # Chunks of 7 steps: both are loops (a 1-step scan compiles without one, so its rounding may
    # differ), and each masks a different number of steps after the stop.
    small = engine.fit(jax.random.key(0), TinyNet, Identity(y.shape), y, chunk=7, **kw)
    assert big.stopped and big.steps < 300
    assert big.steps == small.steps and big.detected_step == small.detected_step
    np.testing.assert_array_equal(big.x, small.x)
    np.testing.assert_array_equal(big.x_detected, small.x_detected)
    assert 0 <= big.detected_step < big.steps
    assert big.detection_gap is not None and big.detection_gap >= 0


def test_the_loop_compiles_once_and_the_heap_is_released_before_the_first_step(monkeypatch):
    released = []
    with compiles_of("_run_chunk") as compiles:
        # fit compiles its loop ahead of the first chunk and then releases the heap; the chunks
        # must find that program in jit's cache rather than compile it again.
        monkeypatch.setattr(engine.heap, "release_free_heap",
                            lambda: released.append(len(compiles)))
        y = _target(11, 13)  # a shape no other test compiles
        res = engine.fit(jax.random.key(0), TinyNet, Identity(y.shape), y, steps=25, chunk=10,
                         progress=False)
    assert len(compiles) == 1
    assert released == [1]
    assert res.steps == 25 and res.compile_seconds > 0


def test_release_free_heap_runs_on_glibc():
    import platform

    from jaxdip.heap import release_free_heap

    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert release_free_heap() is expected
