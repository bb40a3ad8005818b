import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from jaxdip.stopping import EMV, WMV, Oracle, SelfValidation, detection_gap


def run(rule, xs, key=None):
    """Drive ``rule`` over the outputs ``xs`` (T, ...) in one lax.scan, as the fit engine does."""
    key = jax.random.key(0) if key is None else key

    def body(state, inp):
        x, t = inp
        state = rule.update(state, x, t)
        return state, (rule.score(state), rule.should_stop(state))

    state = rule.init(key, xs[0])
    steps = jnp.arange(xs.shape[0], dtype=jnp.int32)
    state, (scores, stops) = jax.lax.scan(body, state, (xs, steps))
    return state, scores, stops


run_jit = jax.jit(run, static_argnums=0)


def v_profile(T, tstar, a0=0.005, slope=0.002):
    """Noise amplitude a(t) = a0 + slope |t - t*|: a sharp minimum at t*."""
    return a0 + slope * np.abs(np.arange(T) - tstar)


def noisy_sequences(seed, T, a, shape, batch=3):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.2, 0.8, shape)
    eps = rng.standard_normal((batch, T, *shape))
    return jnp.asarray((s + a[:, None, None, None] * eps).astype(np.float32))


# ------------------------------------------------------------------------------------------
# WMV accuracy
# ------------------------------------------------------------------------------------------


def test_wmv_running_variance_matches_direct_computation():
    T, W, shape = 1000, 100, (16, 16, 3)
    rng = np.random.default_rng(0)
    s = 0.5 + 0.3 * np.sin(np.arange(np.prod(shape)).reshape(shape))
    drift = 1e-4 * np.arange(T)[:, None, None, None] / T
    xs = (s + drift + 1e-3 * rng.standard_normal((T, *shape))).astype(np.float32)
    _, scores, _ = run_jit(WMV(window=W, patience=10_000), jnp.asarray(xs))
    scores = np.asarray(scores)
    assert np.all(np.isnan(scores[: W - 1]))

    flat = xs.reshape(T, -1).astype(np.float64)
    direct = np.array([flat[t - W + 1 : t + 1].var(axis=0).mean() for t in range(W - 1, T)])
    rel = np.abs(scores[W - 1 :] - direct) / direct
    assert rel.max() < 1e-5, rel.max()

    # The test is sensitive: raw float32 running sums S1 = sum x, S2 = sum ||x||^2 fail here.
    x32 = xs.reshape(T, -1)
    s1, s2, naive = np.zeros(x32.shape[1], np.float32), np.float32(0), []
    for t in range(T):
        s1 = s1 + x32[t]
        s2 = np.float32(s2 + np.sum(x32[t] * x32[t], dtype=np.float32))
        if t >= W:
            s1 = s1 - x32[t - W]
            s2 = np.float32(s2 - np.sum(x32[t - W] * x32[t - W], dtype=np.float32))
        if t >= W - 1:
            m = s1 / np.float32(W)
            naive.append((s2 / np.float32(W) - np.sum(m * m, dtype=np.float32)) / x32.shape[1])
    assert np.max(np.abs(np.array(naive) - direct) / direct) > 1e-3


# ------------------------------------------------------------------------------------------
# Detection of a known minimum
# ------------------------------------------------------------------------------------------
# x_t = s + a(t) eps_t with eps_t iid N(0, 1). The expected scores are computed in closed form:
#   WMV: E VAR(t) = (1 - 1/W) mean_{k in window(t)} a_k^2, minimal for the window centred on t*,
#        i.e. at t* + (W - 1)/2 (the rule reports the window's last step, as the reference does);
#   EMV: E emv_t = (1 - alpha)(E emv_{t-1} + alpha (a_t^2 + v_{t-1})), with v the variance of
#        the EMA error, v_t = (1 - alpha)^2 v_{t-1} + alpha^2 a_t^2 (a causal filter: lag ~ 9).
# Tolerance 3 steps: near the minimum the expected score changes by ~2% per step while the
# estimate's relative noise is ~sqrt(2 / (n W_eff)) ~ 4% (n = 64, W_eff ~ 20), which moves the
# argmin by 1-2 steps (max |error| over 40 seeds was 2).


def expected_wmv(a, W):
    out = np.full(a.shape[0], np.nan)
    for t in range(W - 1, a.shape[0]):
        out[t] = (1 - 1 / W) * np.mean(a[t - W + 1 : t + 1] ** 2)
    return out


def expected_emv(a, alpha, start):
    out = np.full(a.shape[0], np.inf)
    emv, v = 0.0, a[0] ** 2
    for t in range(1, a.shape[0]):
        emv = (1 - alpha) * (emv + alpha * (a[t] ** 2 + v))
        v = (1 - alpha) ** 2 * v + alpha**2 * a[t] ** 2
        if t > start:
            out[t] = emv
    return out


@pytest.mark.parametrize("kind", ["wmv", "emv"])
def test_detects_known_variance_minimum(kind):
    T, tstar = 300, 150
    a = v_profile(T, tstar)
    xs = noisy_sequences(1, T, a, (8, 8, 1))
    if kind == "wmv":
        rule, expected = WMV(window=21, patience=1000), np.nanargmin(expected_wmv(a, 21))
        assert expected == tstar + 10
    else:
        rule = EMV(alpha=0.1, patience=1000, start=10)
        expected = np.argmin(expected_emv(a, 0.1, 10))
        assert tstar < expected < tstar + 15
    state, _, _ = jax.jit(jax.vmap(lambda s: run(rule, s)))(xs)
    steps, best_x = rule.detected(state)
    assert np.all(np.abs(np.asarray(steps) - expected) <= 3), (steps, expected)
    np.testing.assert_array_equal(best_x, xs[jnp.arange(3), steps])


# ------------------------------------------------------------------------------------------
# Patience
# ------------------------------------------------------------------------------------------


def first_true(flags):
    flags = np.asarray(flags)
    return int(np.argmax(flags)) if flags.any() else -1


def test_should_stop_fires_exactly_after_patience_constant_scores():
    # Constant outputs: WMV's VAR is 0 from step W-1 on, EMV's emv is 0 from its first scored
    # step on. Equal scores are not improvements, so the first scored step stays the best and
    # the rule stops exactly `patience` steps later.
    xs = jnp.full((40, 4, 4, 2), 0.3)
    rule = WMV(window=5, patience=7)
    state, scores, stops = run_jit(rule, xs)
    assert int(rule.detected(state)[0]) == 4
    assert first_true(stops) == 4 + 7
    np.testing.assert_allclose(scores[4:], 0.0, atol=1e-7)

    rule = EMV(alpha=0.1, patience=7, start=3)
    state, scores, stops = run_jit(rule, xs)
    assert int(rule.detected(state)[0]) == 4  # first scored call has index > start
    assert first_true(stops) == 4 + 7


def test_oracle_patience_and_frozen_detection():
    rng = np.random.default_rng(2)
    x_true = rng.uniform(0, 1, (8, 8, 3)).astype(np.float32)
    u = rng.standard_normal((8, 8, 3)).astype(np.float32)
    P, tbest, T = 10, 30, 60
    err = np.abs(np.arange(T) - tbest) + 1.0
    err[tbest + P + 5 :] = 0.01  # far better outputs arrive only after the rule has stopped
    xs = jnp.asarray(x_true + 1e-2 * err[:, None, None, None] * u)
    rule = Oracle(jnp.asarray(x_true), patience=P)
    state, scores, stops = run_jit(rule, xs)
    assert first_true(stops) == tbest + P
    assert bool(np.all(np.asarray(stops)[tbest + P :]))
    step, x = rule.detected(state)
    assert int(step) == tbest
    np.testing.assert_array_equal(x, xs[tbest])
    assert float(scores[-1]) > float(scores[tbest])  # the score keeps updating for plots


def test_patience_counter_matches_reference_logic():
    # Re-implement the reference check_stop in NumPy on the rule's own score history.
    T = 400
    a = 0.01 + 0.01 * np.abs(np.sin(np.arange(T) / 37.0))
    xs = noisy_sequences(3, T, a, (8, 8, 1), batch=1)[0]
    for rule, first_valid in [(WMV(window=11, patience=25), 10), (EMV(0.2, 25, start=5), 6)]:
        state, scores, stops = run_jit(rule, xs)
        scores = np.asarray(scores)
        best, best_t, wait, stop_at = np.inf, -1, 0, -1
        for t in range(first_valid, T):
            if scores[t] < best:
                best, best_t, wait = scores[t], t, 0
            else:
                wait += 1
                if wait >= 25:
                    stop_at = t
                    break
        assert stop_at > 0
        assert first_true(stops) == stop_at
        assert int(rule.detected(state)[0]) == best_t


# ------------------------------------------------------------------------------------------
# Formulas
# ------------------------------------------------------------------------------------------


def test_emv_matches_recursion_in_float64():
    rng = np.random.default_rng(4)
    xs = rng.uniform(0, 1, (50, 6, 5, 2)).astype(np.float32)
    _, scores, _ = run_jit(EMV(alpha=0.3, patience=100, start=0), jnp.asarray(xs))
    flat = xs.reshape(50, -1).astype(np.float64)
    ema, emv, want = flat[0], 0.0, [0.0]
    for t in range(1, 50):
        d = flat[t] - ema
        ema = ema + 0.3 * d
        emv = 0.7 * (emv + 0.3 * np.mean(d * d))
        want.append(emv)
    np.testing.assert_allclose(scores, want, rtol=1e-5)


def test_oracle_scores_are_psnr_and_detection_is_argmax():
    rng = np.random.default_rng(5)
    x_true = rng.uniform(0, 1, (8, 8, 3))
    levels = rng.uniform(0.01, 0.2, 80)
    xs = np.clip(x_true + levels[:, None, None, None] * rng.standard_normal((80, 8, 8, 3)), 0, 1)
    xs = xs.astype(np.float32)
    rule = Oracle(jnp.asarray(x_true, jnp.float32), patience=1000)
    state, scores, _ = run_jit(rule, jnp.asarray(xs))
    x_true32 = x_true.astype(np.float32).astype(np.float64)
    want = [peak_signal_noise_ratio(x_true32, x.astype(np.float64), data_range=1.0) for x in xs]
    np.testing.assert_allclose(scores, want, rtol=1e-5)
    assert int(rule.detected(state)[0]) == int(np.argmax(want))
    gap = detection_gap(scores, jnp.int32(10))
    np.testing.assert_allclose(gap, np.max(want) - want[10], rtol=1e-4)


def test_detection_gap():
    psnr = jnp.array([20.0, 25.0, jnp.nan, 24.0])
    assert float(detection_gap(psnr, jnp.int32(3))) == pytest.approx(1.0)
    assert float(detection_gap(psnr, jnp.int32(1))) == 0.0
    assert np.isnan(float(detection_gap(psnr, jnp.int32(-1))))
    with pytest.raises(ValueError, match="psnr_history"):
        detection_gap(jnp.zeros((2, 2)), 0)


# ------------------------------------------------------------------------------------------
# jit / scan / vmap consistency
# ------------------------------------------------------------------------------------------


def assert_same_runs(rule, xs):
    """vmapped scan over 3 sequences == each sequence separately (same jitted scan)."""
    keys = jax.random.split(jax.random.key(7), xs.shape[0])
    vstate, vscores, vstops = jax.jit(jax.vmap(lambda s, k: run(rule, s, k)))(xs, keys)
    single = jax.jit(run, static_argnums=0)
    for i in range(xs.shape[0]):
        state, scores, stops = single(rule, xs[i], keys[i])
        np.testing.assert_allclose(vscores[i], scores, rtol=2e-5, atol=1e-7)
        np.testing.assert_array_equal(vstops[i], stops)
        step, x = rule.detected(state)
        assert int(rule.detected(vstate)[0][i]) == int(step)
        np.testing.assert_array_equal(rule.detected(vstate)[1][i], x)
    for leaf in jax.tree.leaves(vstate):
        assert isinstance(leaf, jax.Array)


@pytest.mark.parametrize(
    "rule",
    [WMV(window=7, patience=15), EMV(alpha=0.2, patience=15, start=5)],
    ids=["wmv", "emv"],
)
def test_vmap_equals_separate_runs(rule):
    T = 120
    a = v_profile(T, 60, a0=0.01, slope=0.001)
    assert_same_runs(rule, noisy_sequences(6, T, a, (8, 8, 1)))


def test_oracle_vmap_and_no_recompile():
    rng = np.random.default_rng(8)
    x_true = jnp.asarray(rng.uniform(0, 1, (8, 8, 1)), jnp.float32)
    xs = noisy_sequences(9, 60, v_profile(60, 20, 0.01, 0.002), (8, 8, 1))
    assert_same_runs(Oracle(x_true, patience=10), xs)

    traces = []

    @jax.jit
    def final_step(rule, xs):
        traces.append(1)
        return rule.detected(run(rule, xs)[0])[0]

    final_step(Oracle(x_true, patience=10), xs[0])
    final_step(Oracle(x_true + 0.1, patience=10), xs[1])
    assert len(traces) == 1


# ------------------------------------------------------------------------------------------
# Self-validation
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sv_run():
    T, tstar, shape = 200, 120, (16, 16, 1)
    a = v_profile(T, tstar)
    yy, xx = np.mgrid[0:16, 0:16] / 16
    s = (0.5 + 0.3 * np.sin(2 * np.pi * xx) * np.cos(2 * np.pi * yy))[..., None]
    rng = np.random.default_rng(0)
    xs = jnp.asarray((s + a[:, None, None, None] * rng.standard_normal((3, T, *shape))))
    xs = xs.astype(jnp.float32)
    keys = jax.random.split(jax.random.key(11), 3)
    rule = SelfValidation(buffer=32, patience=1000, depth=1, hidden=8, batch=8, learning_rate=1e-2)

    def run_and_first_score(seq, key):
        # Also the freshly initialised AE's RMS error on x_0, in the same compiled program
        # (compiling the AE is the slow part of this file).
        params = rule.init(key, seq[0]).params
        rec = rule.reconstruct(params, seq[0])
        return run(rule, seq, key), (params, rec, jnp.sqrt(jnp.mean((seq[0] - rec) ** 2)))

    vrun = jax.jit(jax.vmap(run_and_first_score))
    return rule, xs, keys, tstar, vrun, vrun(xs, keys)


def test_self_validation_batch_members_are_independent(sv_run):
    # The autoencoder's compile is the slow part of this file, so instead of a second
    # (unbatched) compile we rerun the same vmapped scan on the reversed batch: each member's
    # history must not depend on its position or neighbours (keys, buffers, Adam states).
    rule, xs, keys, _, vrun, ((vstate, vscores, vstops), _) = sv_run
    (rstate, rscores, rstops), _ = vrun(xs[::-1], keys[::-1])
    np.testing.assert_allclose(rscores[::-1], vscores, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(rstops[::-1], vstops)
    np.testing.assert_array_equal(rule.detected(rstate)[0][::-1], rule.detected(vstate)[0])
    for leaf in jax.tree.leaves(vstate):
        assert isinstance(leaf, jax.Array)


def test_self_validation_detection(sv_run):
    # Noise (amplitude a(t), minimal at t*) cannot pass the AE's bottleneck, so the AE's
    # reconstruction error follows a(t) once the AE has learnt the clean image (score falls
    # from ~0.8 at step 0 to ~0.025 near t*; a(t) changes by 0.002 per step). The AE still
    # improves while the noise grows, which may move the minimum by a step or two.
    rule, xs, _, tstar, _, ((vstate, vscores, _), _) = sv_run
    steps = np.asarray(rule.detected(vstate)[0])
    assert np.all(np.abs(steps - tstar) <= 4), steps
    assert np.all(np.asarray(vscores)[:, 0] > 10 * np.asarray(vscores)[:, tstar])


def test_self_validation_scores_before_training(sv_run):
    # Step 0's score is the RMS error of the freshly initialised AE on x_0; afterwards the
    # parameters have moved.
    rule, xs, _, _, _, ((vstate, vscores, _), (params, rec, want)) = sv_run
    assert rec.shape == xs[:, 0].shape
    np.testing.assert_allclose(vscores[:, 0], want, rtol=1e-5)
    def moved_in_every_member(p, q):
        return bool(jnp.all(jnp.any((p != q).reshape(p.shape[0], -1), axis=1)))

    moved = jax.tree.map(moved_in_every_member, params, vstate.params)
    assert all(jax.tree.leaves(moved))


# ------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match="window: expected an integer >= 1, got 0"):
        WMV(window=0)
    with pytest.raises(ValueError, match="patience"):
        WMV(patience=2.5)
    with pytest.raises(ValueError, match=r"alpha: expected a number in \(0, 1\], got 0"):
        EMV(alpha=0)
    with pytest.raises(ValueError, match="start"):
        EMV(start=-1)
    with pytest.raises(ValueError, match="x_true: expected finite values"):
        Oracle(jnp.array([[[jnp.nan]]]))
    with pytest.raises(ValueError, match=r"x0: expected shape \(4, 4, 1\), got \(4, 4, 2\)"):
        Oracle(jnp.zeros((4, 4, 1))).init(jax.random.key(0), jnp.zeros((4, 4, 2)))
    rule = WMV(window=3)
    state = rule.init(jax.random.key(0), jnp.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match=r"x: expected shape \(4, 4, 1\), got \(4, 4\)"):
        rule.update(state, jnp.zeros((4, 4)), jnp.int32(0))
    with pytest.raises(TypeError, match="x: expected a real array"):
        rule.update(state, jnp.zeros((4, 4, 1), jnp.complex64), jnp.int32(0))
    with pytest.raises(ValueError, match="step: expected a scalar"):
        rule.update(state, jnp.zeros((4, 4, 1)), jnp.zeros(2, jnp.int32))
    with pytest.raises(ValueError, match=r"x0: expected H, W >= 2\*\*depth = 16"):
        SelfValidation(depth=4).init(jax.random.key(0), jnp.zeros((8, 8, 1)))
