"""Early-stopping rules that run inside the compiled fit loop.

A rule is a frozen-dataclass pytree (hyperparameters are static fields, arrays such as the
oracle's ``x_true`` are leaves) with a small functional interface, so that its state can ride in
the ``lax.scan`` carry of the fit engine and be vmapped over seeds::

    state = rule.init(key, x0)            # x0: an array shaped like the outputs
    state = rule.update(state, x, step)   # once per optimisation step, x = that step's output
    rule.should_stop(state)               # bool scalar: patience exhausted
    step, x_best = rule.detected(state)   # detected step (-1 before any candidate) and iterate
    rule.score(state)                     # latest score, for plotting histories

All rules share the patience logic of the reference code (Wang et al., "Early stopping for deep
image prior", arXiv 2112.06074, github.com/sun-umn/Early_Stopping_for_DIP): at every step where
the score is defined, a *strictly* better score becomes the new best (its step and that step's
output are remembered) and resets a counter, any other score increments it; ``should_stop`` is
true once the counter reaches ``patience``, i.e. after ``patience`` consecutive non-improving
steps. As in the reference, the detection is frozen once the rule has stopped: an engine that
keeps stepping (e.g. a vmapped batch waiting for its slowest member) gets the same detection as one
that halts. Windows and warm-ups count calls to ``update``; ``step`` is only recorded.

Example:
    >>> import jax, jax.numpy as jnp
    >>> rule = EMV(alpha=0.1, patience=50, start=10)
    >>> xs = jnp.zeros((200, 8, 8, 1))
    >>> def body(s, a):
    ...     x, t = a
    ...     s = rule.update(s, x, t)
    ...     return s, rule.score(s)
    >>> state = rule.init(jax.random.key(0), xs[0])
    >>> state, scores = jax.lax.scan(body, state, (xs, jnp.arange(200, dtype=jnp.int32)))
    >>> int(rule.detected(state)[0]), bool(rule.should_stop(state))
    (11, True)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdip.conv import conv2d
from jaxdip.operators.base import check_finite, operator_dataclass, static_field

__all__ = [
    "StoppingRule",
    "Track",
    "WMV",
    "WMVState",
    "EMV",
    "EMVState",
    "SelfValidation",
    "SVState",
    "Oracle",
    "OracleState",
    "detection_gap",
]


class Track(NamedTuple):
    """Best-so-far bookkeeping shared by every rule.

    ``count``: calls to ``update`` so far; ``best_score``; ``best_step`` (-1 before any candidate);
    ``best_x``: the output at ``best_step`` (the latest output while ``best_step`` is -1);
    ``wait``: scored steps since the last improvement; ``stopped``: ``wait >= patience`` was
    reached.
    """

    count: jax.Array
    best_score: jax.Array
    best_step: jax.Array
    best_x: jax.Array
    wait: jax.Array
    stopped: jax.Array


def _new_track(x0: jax.Array, higher_is_better: bool = False) -> Track:
    worst = -jnp.inf if higher_is_better else jnp.inf
    return Track(
        count=jnp.zeros((), jnp.int32),
        best_score=jnp.asarray(worst, jnp.float32),
        best_step=jnp.asarray(-1, jnp.int32),
        best_x=jnp.zeros(x0.shape, jnp.float32),
        wait=jnp.zeros((), jnp.int32),
        stopped=jnp.zeros((), bool),
    )


def _advance(
    tr: Track,
    score: jax.Array,
    x: jax.Array,
    step: jax.Array,
    valid: jax.Array,
    patience: int,
    higher_is_better: bool = False,
) -> Track:
    """One step of the patience rule (reference ``check_stop``), branch-free."""
    active = valid & ~tr.stopped
    better = score > tr.best_score if higher_is_better else score < tr.best_score
    improved = active & better
    wait = jnp.where(active, jnp.where(improved, 0, tr.wait + 1), tr.wait)
    return Track(
        count=tr.count + 1,
        best_score=jnp.where(improved, score, tr.best_score),
        best_step=jnp.where(improved, step, tr.best_step),
        best_x=jnp.where(improved | (tr.best_step < 0), x, tr.best_x),
        wait=wait,
        stopped=tr.stopped | (wait >= patience),
    )


def _as_output(name: str, x: Any, shape: tuple[int, ...] | None = None) -> jax.Array:
    """Validate an output array (shape, real dtype) and return it as float32."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{name}: expected an array, got {type(x).__name__}")
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(f"{name}: expected a real array, got dtype {x.dtype}")
    if shape is not None and tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(x.shape)}")
    return jnp.asarray(x, jnp.float32)


def _as_step(step: Any) -> jax.Array:
    if jnp.ndim(step) != 0:
        raise ValueError(f"step: expected a scalar, got shape {tuple(jnp.shape(step))}")
    return jnp.asarray(step, jnp.int32)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")


class StoppingRule:
    """Base class: ``should_stop``, ``detected`` and ``score`` read the shared state layout.

    Subclasses are :func:`operator_dataclass` pytrees and implement ``init(key, x0)`` and
    ``update(state, x, step)``; their state is a NamedTuple with fields ``score`` and ``track``.
    """

    def init(self, key: jax.Array, x0: jax.Array) -> Any:
        raise NotImplementedError

    def update(self, state: Any, x: jax.Array, step: jax.Array) -> Any:
        raise NotImplementedError

    def should_stop(self, state: Any) -> jax.Array:
        """True once ``patience`` consecutive scored steps brought no improvement."""
        return state.track.stopped

    def detected(self, state: Any) -> tuple[jax.Array, jax.Array]:
        """``(step, x)``: the best step so far (-1 before any candidate) and its output."""
        return state.track.best_step, state.track.best_x

    def score(self, state: Any) -> jax.Array:
        """The latest score (NaN while undefined)."""
        return state.score


# --------------------------------------------------------------------------------------------
# ES-WMV
# --------------------------------------------------------------------------------------------


class WMVState(NamedTuple):
    """State of :class:`WMV`.

    ``buffer``: ring buffer of the last ``window`` outputs (slot ``count % window``);
    ``leaving``: the output that leaves the window at the next call.
    Window sums, relative to the shift ``w_shift``: ``w_sum = sum_k (x_k - w_shift)`` (array) and
    ``w_sq = sum_k ||x_k - w_shift||^2``. Block sums ``b_shift``, ``b_sum``, ``b_sq``: the same over
    the current block of ``window`` consecutive outputs, accumulated by additions only.
    """

    buffer: jax.Array
    leaving: jax.Array
    w_shift: jax.Array
    w_sum: jax.Array
    w_sq: jax.Array
    b_shift: jax.Array
    b_sum: jax.Array
    b_sq: jax.Array
    score: jax.Array
    track: Track


@operator_dataclass
class WMV(StoppingRule):
    """ES-WMV: windowed moving variance of the outputs (Wang et al., arXiv 2112.06074).

    With the last ``W = window`` outputs ``x_{t-W+1} .. x_t`` (``n`` entries each) and their mean
    ``m``, the score is

        VAR(t) = (1/W) sum_k mean((x_k - m)^2) = (S2 / W - ||S1 / W||^2) / n,
        S1 = sum_k (x_k - c),  S2 = sum_k ||x_k - c||^2   (any shift c),

    defined once the window is full (from the ``W``-th call on; NaN before). Lower is better.
    Detection follows the authors' code: the detected step is the step ``t`` whose window (ending
    at ``t``) had the lowest VAR and the remembered iterate is ``x_t`` itself (not the window's
    centre); ``should_stop`` after ``patience`` steps without a strictly lower VAR.

    Cost is O(n) per step, independent of ``W``: a ring buffer holds the window (updated in
    place; the output that leaves next is read after the write, see ``update``), and S1, S2 are
    updated by adding the new output and subtracting the one that leaves. Two measures keep
    float32 accurate (the test checks 1e-5 relative error against a float64 O(W n) computation
    over 1000 steps, where naive raw sums ``sum x``, ``sum ||x||^2`` lose about two digits):
    (i) sums are taken relative to a shift ``c`` close to the data (the first output of the
    last completed block, at most 2W - 1 steps old), so ``S2/W`` and ``||S1/W||^2`` do not cancel catastrophically; (ii) a second
    accumulator sums each block of ``W`` consecutive outputs by additions only; when a block
    completes it covers exactly the window, and it replaces the sliding sums, so rounding from
    the add/subtract updates never builds up over more than ``W`` steps. Both are O(n)
    branch-free selects (no ``lax.cond``, which vmap would turn into computing both branches).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> rule = WMV(window=10, patience=20)
        >>> s = rule.init(jax.random.key(0), jnp.zeros((4, 4, 1)))
        >>> for t in range(12):
        ...     s = rule.update(s, jnp.full((4, 4, 1), 0.5), jnp.int32(t))
        >>> float(rule.score(s)), int(rule.detected(s)[0])
        (0.0, 9)
    """

    window: int = static_field(default=100)
    patience: int = static_field(default=1000)

    def __post_init__(self) -> None:
        _check_int("window", self.window, 1)
        _check_int("patience", self.patience, 1)

    def init(self, key: jax.Array, x0: jax.Array) -> WMVState:
        x0 = _as_output("x0", x0)
        zero = jnp.zeros(x0.shape, jnp.float32)
        return WMVState(
            buffer=jnp.zeros((self.window, *x0.shape), jnp.float32),
            leaving=zero,
            w_shift=zero,
            w_sum=zero,
            w_sq=jnp.zeros((), jnp.float32),
            b_shift=zero,
            b_sum=zero,
            b_sq=jnp.zeros((), jnp.float32),
            score=jnp.asarray(jnp.nan, jnp.float32),
            track=_new_track(x0),
        )

    def update(self, state: WMVState, x: jax.Array, step: jax.Array) -> WMVState:
        x = _as_output("x", x, state.buffer.shape[1:])
        step = _as_step(step)
        W = self.window
        count = state.track.count
        slot = count % W
        # Read the slot that leaves next *after* writing this one: reading the slot being
        # overwritten in the same step makes XLA copy the whole buffer (O(W n) per step).
        x_old = state.leaving
        buffer = jax.lax.dynamic_update_index_in_dim(state.buffer, x, slot, 0)
        leaving = jax.lax.dynamic_index_in_dim(buffer, (count + 1) % W, keepdims=False)

        # Block accumulator: restart (shift = first output of the block) when slot == 0.
        first = slot == 0
        b_shift = jnp.where(first, x, state.b_shift)
        e_new = x - b_shift
        b_sum = jnp.where(first, 0.0, state.b_sum) + e_new
        b_sq = jnp.where(first, 0.0, state.b_sq) + jnp.sum(e_new * e_new)

        # Sliding window: replace x_old by x (only meaningful once the buffer was full).
        d_new = x - state.w_shift
        d_old = x_old - state.w_shift
        s_sum = state.w_sum + d_new - d_old
        s_sq = state.w_sq + (jnp.sum(d_new * d_new) - jnp.sum(d_old * d_old))

        # A completed block is exactly the current window: take its additions-only sums.
        done = slot == W - 1
        w_shift = jnp.where(done, b_shift, state.w_shift)
        w_sum = jnp.where(done, b_sum, s_sum)
        w_sq = jnp.where(done, b_sq, s_sq)

        n = math.prod(x.shape)
        var = (w_sq - jnp.sum(w_sum * w_sum) / W) / (W * n)
        valid = count >= W - 1
        score = jnp.where(valid, jnp.maximum(var, 0.0), jnp.nan)
        track = _advance(state.track, score, x, step, valid, self.patience)
        return WMVState(buffer, leaving, w_shift, w_sum, w_sq, b_shift, b_sum, b_sq, score, track)


# --------------------------------------------------------------------------------------------
# ES-EMV
# --------------------------------------------------------------------------------------------


class EMVState(NamedTuple):
    """State of :class:`EMV`: exponential moving average ``ema`` and variance ``emv``."""

    ema: jax.Array
    emv: jax.Array
    score: jax.Array
    track: Track


@operator_dataclass
class EMV(StoppingRule):
    """ES-EMV: exponential moving variance of the outputs (Wang et al., arXiv 2112.06074).

    ``ema_0 = x_0``, ``emv_0 = 0``; then for each new output

        d = x_t - ema,   ema <- ema + alpha d,   emv <- (1 - alpha) (emv + alpha mean(d^2)).

    The authors' code uses the squared norm ``||d||^2 = sum(d^2)``; we use the mean over the ``n``
    entries, which divides the score by the constant ``n`` (same detections up to float rounding)
    and makes it comparable across image sizes. The reference also clips ``ema`` to [0, 1], a
    no-op for outputs in [0, 1] (``ema`` is a convex combination of them); we do not clip, so the
    rule also serves unbounded outputs. The score is ``emv``, lower is better; as in the
    reference, best-tracking starts at the call with index ``> start`` (0-based) and
    ``should_stop`` after ``patience`` steps without a strictly lower ``emv``.
    Cost: O(n) per step, a handful of elementwise operations.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> rule = EMV(alpha=0.5, patience=5, start=0)
        >>> s = rule.init(jax.random.key(0), jnp.zeros((2, 2, 1)))
        >>> s = rule.update(s, jnp.zeros((2, 2, 1)), jnp.int32(0))
        >>> s = rule.update(s, jnp.ones((2, 2, 1)), jnp.int32(1))
        >>> float(rule.score(s))  # (1 - 0.5) * (0 + 0.5 * 1)
        0.25
    """

    alpha: float = static_field(default=0.1)
    patience: int = static_field(default=1000)
    start: int = static_field(default=100)

    def __post_init__(self) -> None:
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
            raise ValueError(f"alpha: expected a number in (0, 1], got {alpha!r}")
        object.__setattr__(self, "alpha", float(alpha))
        _check_int("patience", self.patience, 1)
        _check_int("start", self.start, 0)

    def init(self, key: jax.Array, x0: jax.Array) -> EMVState:
        x0 = _as_output("x0", x0)
        return EMVState(
            ema=jnp.zeros(x0.shape, jnp.float32),
            emv=jnp.zeros((), jnp.float32),
            score=jnp.asarray(jnp.nan, jnp.float32),
            track=_new_track(x0),
        )

    def update(self, state: EMVState, x: jax.Array, step: jax.Array) -> EMVState:
        x = _as_output("x", x, state.ema.shape)
        step = _as_step(step)
        first = state.track.count == 0
        d = x - state.ema
        ema = jnp.where(first, x, state.ema + self.alpha * d)
        emv = jnp.where(
            first, 0.0, (1.0 - self.alpha) * (state.emv + self.alpha * jnp.mean(d * d))
        )
        valid = state.track.count > self.start
        track = _advance(state.track, emv, x, step, valid, self.patience)
        return EMVState(ema, emv, emv, track)


# --------------------------------------------------------------------------------------------
# Self-validation (online autoencoder)
# --------------------------------------------------------------------------------------------


class SVState(NamedTuple):
    """State of :class:`SelfValidation`: autoencoder ``params``, Adam ``opt_state``, the ring
    ``buffer`` of recent outputs and the PRNG ``key`` used to draw training minibatches."""

    params: Any
    opt_state: Any
    buffer: jax.Array
    key: jax.Array
    score: jax.Array
    track: Track


def _lrelu(x: jax.Array) -> jax.Array:
    return jnp.where(x >= 0, x, 0.2 * x)


def _conv_reflect(x: jax.Array, w: jax.Array, b: jax.Array, stride: int = 1) -> jax.Array:
    p = (w.shape[0] - 1) // 2
    if p:
        x = jnp.pad(x, ((p, p), (p, p), (0, 0)), mode="reflect")
    return conv2d(x, w, b, stride)


@operator_dataclass
class SelfValidation(StoppingRule):
    """SV-ES: early stopping by an online autoencoder (Li et al., BMVC 2021, "Self-validation:
    early stopping for single-instance deep generative priors").

    An autoencoder ``AE`` is trained online on the recent outputs; each step the current output is
    scored *before* the AE trains on it, ``score = ||x_t - AE(x_t)|| / sqrt(n)`` (RMS error; the
    paper's norm divided by the constant ``sqrt(n)``), lower is better. Then ``x_t`` enters a ring
    buffer of the last ``buffer`` outputs and the AE takes one Adam step (``learning_rate``, 1e-3
    in the paper) on the mean squared reconstruction error of ``batch`` outputs drawn uniformly
    from the filled part of the buffer. (The authors run one epoch over the buffer in minibatches
    of 32 per fit step; one step per fit step keeps the rule's cost bounded.) Best-tracking starts
    at the call with index ``>= start`` (0 in the paper); patience 500 in the paper.

    AE (plain JAX, parameters in the state): ``depth`` blocks of [reflect-padded 3x3 conv,
    stride 2, ``hidden`` channels, LeakyReLU(0.2)], a 1x1 conv to ``code`` channels (the
    bottleneck, ``code * ceil(H/2^depth) * ceil(W/2^depth)`` numbers); decoder: 1x1 conv to
    ``hidden`` + LeakyReLU, then ``depth`` blocks of [nearest x2 upsampling cropped to the
    matching encoder size, reflect-padded 3x3 conv] with LeakyReLU between and a linear last
    layer with ``C`` channels.
    Weights and biases ~ U(+-1/sqrt(fan_in)) drawn from the ``key`` given to ``init``.
    Outputs must be (H, W, C) with H, W >= 2**depth.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> rule = SelfValidation(buffer=8, patience=50, depth=2, hidden=8, batch=4)
        >>> s = rule.init(jax.random.key(0), jnp.zeros((8, 8, 1)))
        >>> s = jax.jit(rule.update)(s, jnp.full((8, 8, 1), 0.5), jnp.int32(0))
        >>> int(rule.detected(s)[0])
        0
    """

    buffer: int = static_field(default=256)
    patience: int = static_field(default=500)
    hidden: int = static_field(default=32)
    depth: int = static_field(default=4)
    code: int = static_field(default=1)
    batch: int = static_field(default=32)
    learning_rate: float = static_field(default=1e-3)
    start: int = static_field(default=0)

    def __post_init__(self) -> None:
        _check_int("buffer", self.buffer, 1)
        _check_int("patience", self.patience, 1)
        _check_int("hidden", self.hidden, 1)
        _check_int("depth", self.depth, 1)
        _check_int("code", self.code, 1)
        _check_int("batch", self.batch, 1)
        _check_int("start", self.start, 0)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"learning_rate: expected a positive number, got {lr!r}")
        object.__setattr__(self, "learning_rate", float(lr))

    def _sizes(self, shape: tuple[int, ...]) -> list[tuple[int, int]]:
        sizes = [tuple(shape[:2])]
        for _ in range(self.depth):
            h, w = sizes[-1]
            sizes.append(((h + 1) // 2, (w + 1) // 2))
        return sizes

    def init_params(self, key: jax.Array, shape: tuple[int, ...]) -> dict:
        """Autoencoder parameters for outputs of ``shape`` = (H, W, C)."""
        if len(shape) != 3:
            raise ValueError(f"x0: expected shape (H, W, C), got {tuple(shape)}")
        H, W_, C = shape
        if min(H, W_) < 2**self.depth:
            raise ValueError(
                f"x0: expected H, W >= 2**depth = {2**self.depth}, got shape {tuple(shape)}"
            )
        h = self.hidden
        specs = (
            [(3, C if i == 0 else h, h) for i in range(self.depth)]
            + [(1, h, self.code), (1, self.code, h)]
            + [(3, h, C if i == self.depth - 1 else h) for i in range(self.depth)]
        )
        keys = jax.random.split(key, 2 * len(specs))
        layers = []
        for i, (ks, cin, cout) in enumerate(specs):
            bound = 1.0 / math.sqrt(ks * ks * cin)
            w = jax.random.uniform(keys[2 * i], (ks, ks, cin, cout), jnp.float32, -bound, bound)
            b = jax.random.uniform(keys[2 * i + 1], (cout,), jnp.float32, -bound, bound)
            layers.append({"w": w, "b": b})
        return {"layers": layers}

    def reconstruct(self, params: dict, x: jax.Array) -> jax.Array:
        """``AE(x)`` for one output ``x`` of shape (H, W, C)."""
        sizes = self._sizes(x.shape)
        layers = params["layers"]
        d = self.depth
        h = x
        for i in range(d):
            h = _lrelu(_conv_reflect(h, layers[i]["w"], layers[i]["b"], stride=2))
        h = _conv_reflect(h, layers[d]["w"], layers[d]["b"])
        h = _lrelu(_conv_reflect(h, layers[d + 1]["w"], layers[d + 1]["b"]))
        for i in range(d):
            size = sizes[d - 1 - i]
            h = jnp.repeat(jnp.repeat(h, 2, axis=0), 2, axis=1)[: size[0], : size[1]]
            layer = layers[d + 2 + i]
            h = _conv_reflect(h, layer["w"], layer["b"])
            if i < d - 1:
                h = _lrelu(h)
        return h

    def init(self, key: jax.Array, x0: jax.Array) -> SVState:
        x0 = _as_output("x0", x0)
        k_params, k_data = jax.random.split(key)
        params = self.init_params(k_params, tuple(x0.shape))
        return SVState(
            params=params,
            opt_state=optax.adam(self.learning_rate).init(params),
            buffer=jnp.zeros((self.buffer, *x0.shape), jnp.float32),
            key=k_data,
            score=jnp.asarray(jnp.nan, jnp.float32),
            track=_new_track(x0),
        )

    def update(self, state: SVState, x: jax.Array, step: jax.Array) -> SVState:
        x = _as_output("x", x, state.buffer.shape[1:])
        step = _as_step(step)
        count = state.track.count
        r = x - self.reconstruct(state.params, x)
        score = jnp.sqrt(jnp.mean(r * r))

        buffer = jax.lax.dynamic_update_index_in_dim(state.buffer, x, count % self.buffer, 0)
        filled = jnp.minimum(count + 1, self.buffer)
        key, k_batch = jax.random.split(state.key)
        idx = jax.random.randint(k_batch, (self.batch,), 0, filled)
        xb = buffer[idx]

        def loss(params):
            rec = jax.vmap(lambda v: self.reconstruct(params, v))(xb)
            return jnp.mean((rec - xb) ** 2)

        grads = jax.grad(loss)(state.params)
        opt = optax.adam(self.learning_rate)
        updates, opt_state = opt.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        track = _advance(state.track, score, x, step, count >= self.start, self.patience)
        return SVState(params, opt_state, buffer, key, score, track)


# --------------------------------------------------------------------------------------------
# Oracle
# --------------------------------------------------------------------------------------------


class OracleState(NamedTuple):
    """State of :class:`Oracle`."""

    score: jax.Array
    track: Track


@operator_dataclass
class Oracle(StoppingRule):
    """Oracle stopping for studies: ``score = PSNR(x_t, x_true) = 10 log10(data_range^2 / MSE)``.

    Higher is better; the detected step is the argmax of the PSNR so far (the first one on ties)
    and ``should_stop`` after ``patience`` steps without a strictly higher PSNR. ``x_true`` is a
    pytree leaf, so a new ground truth of the same shape does not recompile a jitted loop.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> rule = Oracle(jnp.full((4, 4, 1), 0.5))
        >>> s = rule.init(jax.random.key(0), jnp.zeros((4, 4, 1)))
        >>> s = rule.update(s, jnp.full((4, 4, 1), 0.6), jnp.int32(0))
        >>> round(float(rule.score(s)), 3)  # 10 log10(1 / 0.01)
        20.0
    """

    x_true: jax.Array
    patience: int = static_field(default=1000)
    data_range: float = static_field(default=1.0)

    def __post_init__(self) -> None:
        # Only concrete arrays are checked: pytree unflattening (jit, vmap, tree_map) rebuilds the
        # rule with tracers or placeholders as leaves.
        x_true = self.x_true
        if isinstance(x_true, (list, tuple)):
            x_true = np.asarray(x_true)
        if isinstance(x_true, (np.ndarray, jax.Array)) and not isinstance(x_true, jax.core.Tracer):
            check_finite("x_true", x_true)
            object.__setattr__(self, "x_true", _as_output("x_true", x_true))
        _check_int("patience", self.patience, 1)
        dr = self.data_range
        if isinstance(dr, bool) or not isinstance(dr, (int, float)) or not dr > 0:
            raise ValueError(f"data_range: expected a positive number, got {dr!r}")
        object.__setattr__(self, "data_range", float(dr))

    def init(self, key: jax.Array, x0: jax.Array) -> OracleState:
        x0 = _as_output("x0", x0, self.x_true.shape)
        return OracleState(
            score=jnp.asarray(jnp.nan, jnp.float32),
            track=_new_track(x0, higher_is_better=True),
        )

    def update(self, state: OracleState, x: jax.Array, step: jax.Array) -> OracleState:
        x = _as_output("x", x, self.x_true.shape)
        step = _as_step(step)
        mse = jnp.mean((x - self.x_true) ** 2)
        psnr = 10.0 * jnp.log10(self.data_range**2 / mse)
        track = _advance(
            state.track, psnr, x, step, jnp.asarray(True), self.patience, higher_is_better=True
        )
        return OracleState(psnr, track)


def detection_gap(psnr_history: jax.Array, detected_step: jax.Array) -> jax.Array:
    """``max_t PSNR(t) - PSNR(detected_step)``: the PSNR lost by stopping where a rule detected.

    ``psnr_history[t]`` is the PSNR of the output of step ``t``; NaN entries (unrecorded steps)
    are ignored by the max. Returns NaN when ``detected_step < 0`` (no detection). Jittable.

    Example:
        >>> import jax.numpy as jnp
        >>> float(detection_gap(jnp.array([20.0, 25.0, 24.0]), jnp.int32(2)))
        1.0
    """
    psnr = jnp.asarray(psnr_history, jnp.float32)
    if psnr.ndim != 1:
        raise ValueError(f"psnr_history: expected a 1-D array, got shape {tuple(psnr.shape)}")
    step = jnp.asarray(detected_step, jnp.int32)
    at = psnr[jnp.clip(step, 0, psnr.shape[0] - 1)]
    return jnp.where(step >= 0, jnp.nanmax(psnr) - at, jnp.nan)
