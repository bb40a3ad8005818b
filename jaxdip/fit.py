"""The DIP fitting engine: a pure init/step/run core and the ``fit`` convenience wrapper.

Deep Image Prior (Ulyanov, Vedaldi, Lempitsky, CVPR 2018): with a fixed random input code ``z``,

    theta* = argmin_theta  loss(A(G_theta(z + sigma_p * eps_t)), y) + lam * R(G_theta(z)),
    x* = G_theta*(z),

found with a first-order optimiser (Adam by default) from a random initialisation, stopped early.

The core is three pure functions over a :class:`FitState` pytree (static configuration such as the
model's graph definition, the optimiser and the loss are pytree metadata; arrays, including the
operator and the measurement, are leaves):

- :func:`init` ``(key, model, operator, y, ...) -> FitState``
- :func:`step` ``(state) -> (state, aux)``: one optimisation step
- :func:`run` ``(state, n) -> (state, aux)``: ``n`` steps as one ``lax.scan``

so they compose with ``jax.jit`` and ``jax.vmap`` in the user's own code; a new measurement, operator
or ground truth of the same shapes does not recompile. :func:`fit` wraps them: compiled chunks, a
progress bar, NaN/inf detection, early stopping and the history.

Example:
    >>> import jax, optax
    >>> from jaxdip import fit, models, operators
    >>> y = jax.numpy.full((32, 32, 3), 0.5)
    >>> net = lambda rngs: models.Skip(channels_down=(8, 8), channels_up=(8, 8),
    ...                                channels_skip=(2, 2), rngs=rngs)
    >>> result = fit.fit(jax.random.key(0), net, operators.Identity(y.shape), y, steps=20,
    ...                  progress=False)
    >>> result.x.shape
    (32, 32, 3)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxdip import heap, xla_options
from jaxdip.losses import get_loss, get_regularizer
from jaxdip.operators.base import Operator, check_finite, operator_dataclass, static_field
from jaxdip.param_layout import ParamLayout

__all__ = ["FitState", "FitResult", "init", "step", "run", "output", "fit"]

_OPTIMIZE = ("weights", "input", "both")
# One shared default so repeated fits hash equal and reuse the compiled program.
_DEFAULT_OPTIMIZER = optax.adam(1e-2)


@operator_dataclass
class FitState:
    """Everything one DIP fit needs, as one pytree.

    Leaves: ``packed_params`` (the model's parameters as ``layout`` packs them: one flat vector per
    dtype, see :mod:`jaxdip.param_layout`; the property ``params`` gives them back as an
    ``nnx.State``), ``train_mask`` (1 for trained, 0 for frozen entries, from ``param_filter``; or
    None), ``z`` (input code), ``opt_state``,
    ``key`` (for the input jitter), ``step`` (int32), ``operator``, ``y``, ``x_true`` (or None),
    ``lam`` (regulariser weight), ``input_noise`` (sigma_p), ``ema_decay``; running results
    ``x_ema`` (output EMA), ``best_loss``/``x_best`` (iterate with the lowest training loss),
    ``stop_state`` (the stopping rule's state), ``stopped``/``diverged`` flags, ``diverged_step`` and
    ``last_good`` (the trainable variables of the last step whose loss and gradient were finite).
    Static: ``graphdef``, ``layout``, ``optimizer``, ``loss``, ``regularizer``, ``optimize``,
    ``data_range``.
    """

    packed_params: Any
    train_mask: Any
    z: jax.Array
    opt_state: Any
    key: jax.Array
    step: jax.Array
    operator: Operator
    y: jax.Array
    x_true: jax.Array | None
    lam: jax.Array
    input_noise: jax.Array
    ema_decay: jax.Array
    x_ema: jax.Array
    best_loss: jax.Array
    x_best: jax.Array
    stopping: Any
    stop_state: Any
    stopped: jax.Array
    diverged: jax.Array
    diverged_step: jax.Array
    last_good: Any
    others: Any
    graphdef: Any = static_field()
    layout: ParamLayout = static_field()
    optimizer: optax.GradientTransformation = static_field()
    loss: Callable = static_field()
    regularizer: Callable | None = static_field()
    optimize: str = static_field()
    data_range: float = static_field()

    @property
    def params(self) -> Any:
        """The model's parameters as an ``nnx.State`` (unpacked from ``packed_params``)."""
        if not self.layout.packed:
            return self.packed_params
        return _unpacker(self.layout)(self.packed_params)


@functools.lru_cache(maxsize=None)
def _unpacker(layout: ParamLayout) -> Callable:
    # One compiled program per layout: eager slicing would compile each of the ~100 slices apart.
    return xla_options.jit(layout.unpack, fast_compile=True)


class StepAux(NamedTuple):
    """Per-step diagnostics returned by :func:`step` (scalars; stacked by :func:`run`)."""

    loss: jax.Array  # total objective at this step's parameters
    data_loss: jax.Array  # data-fidelity term
    psnr: jax.Array  # PSNR of this step's output against x_true (NaN without x_true)
    score: jax.Array  # stopping-rule score (NaN without a rule)
    active: jax.Array  # False for masked steps (after a stop, a divergence or max_steps)


def _trainable(params: Any, z: jax.Array, optimize: str) -> dict:
    if optimize == "weights":
        return {"params": params}
    if optimize == "input":
        return {"z": z}
    return {"params": params, "z": z}


def _train_mask(params: Any, layout: ParamLayout, param_filter: Callable | None) -> Any:
    """``layout.pack_flags`` of ``param_filter(path, value)`` per parameter (None: no filter)."""
    if param_filter is None:
        return None
    flags = [
        bool(param_filter(tuple(str(getattr(p, "key", getattr(p, "name", p))) for p in path), leaf))
        for path, leaf in jax.tree_util.tree_leaves_with_path(params)
    ]
    return layout.pack_flags(flags)


def _masked(tree: dict, mask: Any) -> dict:
    """``tree`` with its ``"params"`` entries multiplied by ``mask`` (frozen entries zeroed)."""
    if mask is None or "params" not in tree:
        return tree
    return {**tree, "params": jax.tree.map(jnp.multiply, tree["params"], mask)}


def _as_module(key: jax.Array, model: Any) -> nnx.Module:
    if isinstance(model, nnx.Module):
        return model
    if callable(model):
        module = model(rngs=nnx.Rngs(key))
        if not isinstance(module, nnx.Module):
            raise TypeError(
                f"model: expected an nnx.Module or a factory returning one, got a factory "
                f"returning {type(module).__name__}"
            )
        return module
    raise TypeError(
        f"model: expected an nnx.Module or a callable model(rngs=...) -> nnx.Module, got "
        f"{type(model).__name__}"
    )


def _default_out_hw(operator: Operator) -> tuple[int, int]:
    shape = tuple(operator.in_shape)
    if len(shape) < 2:
        raise ValueError(
            f"operator: expected an image operator with in_shape (H, W, ...), got in_shape {shape}; "
            "pass input_code explicitly"
        )
    return shape[0], shape[1]


# Everything array-valued in a new FitState is built in one compiled program (on CPU every eager op
# is compiled separately, which costs far more than the work), cached across calls with the same
# model factory, graph, shapes and optimizer: reuse the optimizer object to avoid recompiling. It
# runs once, so it is compiled for compile time (the skip net's init is ~900 kernels).
@functools.partial(
    xla_options.jit,
    fast_compile=True,
    static_argnames=(
        "factory", "graphdef", "layout", "param_filter", "out_hw", "in_shape", "optimizer",
        "optimize",
    ),
)
def _build(k_model, k_code, k_stop, params, others, code, stopping, *, factory, graphdef, layout,
           param_filter, out_hw, in_shape, optimizer, optimize):
    if params is None:
        _, params, others = nnx.split(_as_module(k_model, factory), nnx.Param, ...)
    z = nnx.merge(graphdef, params, others).make_input(k_code, out_hw) if code is None else code
    x0 = jnp.zeros(in_shape, jnp.float32)
    stop_state = None if stopping is None else stopping.init(k_stop, x0)
    packed = layout.pack(params)
    opt_state = optimizer.init(_trainable(packed, z, optimize))
    return packed, _train_mask(params, layout, param_filter), others, z, opt_state, stop_state


# Eagerly, ``jax.random.split(key, 4)`` and unpacking it are two programs; one here. init's other
# constants come from NumPy through ``jax.device_put``, which compiles nothing, where ``jnp.zeros``
# compiles a program per shape and dtype: XLA:CPU keeps each one resident (~2 MB). DIP skip net:
# fit.init 9 -> 4 programs, 0.36 -> 0.30 s, 10 MB less resident (with ChannelNorm's parameters).
_split4 = jax.jit(lambda key: tuple(jax.random.split(key, 4)))


def init(
    key: jax.Array,
    model: Any,
    operator: Operator,
    y: jax.Array,
    *,
    optimizer: optax.GradientTransformation | None = None,
    loss: str | Callable = "mse",
    regularizer: str | Callable | None = None,
    lam: float = 0.0,
    input_noise: float = 0.0,
    ema: float | None = None,
    input_code: jax.Array | None = None,
    optimize: str = "weights",
    param_filter: Callable | None = None,
    x_true: jax.Array | None = None,
    stopping: Any = None,
    data_range: float = 1.0,
    pack_params: bool = True,
) -> FitState:
    """Build the initial :class:`FitState` of a DIP fit.

    Args:
      key: PRNG key; split into model init, input code and input-jitter streams.
      model: an ``nnx.Module`` (its current weights are the initialisation) or a factory
        ``model(rngs=nnx.Rngs(key)) -> nnx.Module`` (initialised from ``key``; needed for vmapped
        seed ensembles). ``model(z)`` must return an array of ``operator.in_shape``.
      operator: forward model ``A`` (a jaxdip operator pytree).
      y: measurement of shape ``operator.out_shape``.
      optimizer: any optax transformation; default ``optax.adam(1e-2)`` (the DIP reference). It
        is given the model's parameters packed into one flat vector per dtype (``pack_params``).
      loss: ``'mse'``, ``'l1'``, ``'huber'`` or a callable ``loss(pred, y)``.
      regularizer: ``'tv'``, ``'tv-iso'``, ``'l1/l2'``, a callable ``R(x)``, or None.
      lam: regulariser weight.
      input_noise: sigma_p, std of the fresh Gaussian jitter added to ``z`` at every step.
      ema: decay of the output exponential moving average (DIP uses 0.99); None disables it.
      input_code: the code ``z``; default ``model.make_input(key, (H, W))``.
      optimize: ``'weights'``, ``'input'`` or ``'both'``.
      param_filter: ``f(path: tuple[str, ...], value) -> bool``; parameters where it is False are
        frozen (e.g. the Deep Random Projector trains only the normalisation parameters).
      x_true: ground truth for PSNR in the history (optional).
      stopping: an early-stopping rule from :mod:`jaxdip.stopping` (optional).
      data_range: data range for PSNR.
      pack_params: optimise the parameters packed into one vector per dtype (default; the fitting
        loop then compiles in about half the time on CPU, see :mod:`jaxdip.param_layout`). Exact
        for element-wise optimisers (Adam, AdamW, SGD, RMSProp) and global-norm clipping; pass
        False for one that treats each parameter array as a layer (LAMB, LARS, Adafactor, an
        ``optax.multi_transform`` labelled by parameter name), which then gets the ``nnx.State``.
    """
    if optimize not in _OPTIMIZE:
        raise ValueError(f"optimize: expected one of {_OPTIMIZE}, got {optimize!r}")
    if not isinstance(operator, Operator):
        raise TypeError(f"operator: expected a jaxdip Operator, got {type(operator).__name__}")
    y = jnp.asarray(y)
    if tuple(y.shape) != tuple(operator.out_shape):
        raise ValueError(
            f"y: expected shape {tuple(operator.out_shape)} (operator.out_shape), got {tuple(y.shape)}"
        )
    check_finite("y", y)
    for name, value in (("lam", lam), ("input_noise", input_noise)):
        if not (isinstance(value, jax.core.Tracer) or float(value) >= 0):
            raise ValueError(f"{name}: expected >= 0, got {value}")
    if ema is not None and not (isinstance(ema, jax.core.Tracer) or 0 <= float(ema) < 1):
        raise ValueError(f"ema: expected a decay in [0, 1) or None, got {ema}")
    if not isinstance(pack_params, bool):
        raise TypeError(f"pack_params: expected a bool, got {type(pack_params).__name__}")
    if param_filter is not None and not callable(param_filter):
        raise TypeError(
            f"param_filter: expected a callable f(path, value) -> bool, got "
            f"{type(param_filter).__name__}"
        )
    optimizer = _DEFAULT_OPTIMIZER if optimizer is None else optimizer
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer: expected an optax.GradientTransformation, got {type(optimizer).__name__}"
        )
    loss_fn = get_loss(loss)
    reg_fn = get_regularizer(regularizer)

    k_model, k_code, k_run, k_stop = _split4(key)
    if not isinstance(model, nnx.Module) and not isinstance(k_model, jax.core.Tracer):
        # Outside a trace the factory runs eagerly (its parameter draws compile a few small
        # programs), not inside the compiled state builder, where the traced initialisation is
        # most of the program: skip net at 256x256, fit.init 4.3 -> 1.8 s; the same numbers up to
        # float rounding (jaxdip.models.layers.uniform_init).
        model = _as_module(k_model, model)
    if isinstance(model, nnx.Module):
        graphdef, params, others = nnx.split(model, nnx.Param, ...)
        template = model
        layout = ParamLayout.of(params, packed=pack_params)
    else:
        template = nnx.eval_shape(lambda: _as_module(k_model, model))
        graphdef, abstract_params, _ = nnx.split(template, nnx.Param, ...)
        layout = ParamLayout.of(abstract_params, packed=pack_params)
        params = others = None
    if input_code is None and not hasattr(template, "make_input"):
        raise ValueError("input_code: the model has no make_input(key, out_hw); pass input_code")
    out_hw = _default_out_hw(operator) if input_code is None else None
    code = None if input_code is None else jnp.asarray(input_code)

    packed, train_mask, others, z, opt_state, stop_state = _build(
        k_model, k_code, k_stop, params, others, code, stopping,
        factory=None if isinstance(model, nnx.Module) else model, graphdef=graphdef, layout=layout,
        param_filter=param_filter, out_hw=out_hw, in_shape=tuple(operator.in_shape),
        optimizer=optimizer, optimize=optimize,
    )
    out = jax.eval_shape(
        lambda p, o, c: nnx.merge(graphdef, layout.unpack(p), o)(c), packed, others, z
    )
    if tuple(out.shape) != tuple(operator.in_shape):
        raise ValueError(
            f"model: output shape {tuple(out.shape)} does not match operator.in_shape "
            f"{tuple(operator.in_shape)}"
        )
    if x_true is not None:
        x_true = jnp.asarray(x_true)
        if x_true.shape != out.shape:
            raise ValueError(f"x_true: expected shape {tuple(out.shape)}, got {tuple(x_true.shape)}")
    x0 = jax.device_put(np.zeros(out.shape, out.dtype))
    return FitState(
        packed_params=packed,
        train_mask=train_mask,
        z=z,
        opt_state=opt_state,
        key=k_run,
        step=jax.device_put(np.int32(0)),
        operator=operator,
        y=y,
        x_true=x_true,
        lam=jnp.asarray(lam, jnp.float32),
        input_noise=jnp.asarray(input_noise, jnp.float32),
        ema_decay=jnp.asarray(0.0 if ema is None else ema, jnp.float32),
        x_ema=x0,
        best_loss=jax.device_put(np.float32(np.inf)),
        x_best=x0,
        stopping=stopping,
        stop_state=stop_state,
        stopped=jax.device_put(np.bool_(False)),
        diverged=jax.device_put(np.bool_(False)),
        diverged_step=jax.device_put(np.int32(-1)),
        last_good=_trainable(packed, z, optimize),
        others=others,
        graphdef=graphdef,
        layout=layout,
        optimizer=optimizer,
        loss=loss_fn,
        regularizer=reg_fn,
        optimize=optimize,
        data_range=float(data_range),
    )


def output(state: FitState, z: jax.Array | None = None) -> jax.Array:
    """``G_theta(z)`` at the state's parameters and clean input code (or a given ``z``)."""
    net = nnx.merge(state.graphdef, state.layout.unpack(state.packed_params), state.others)
    return net(state.z if z is None else z)


def _psnr(x: jax.Array, x_true: jax.Array, data_range: float) -> jax.Array:
    mse = jnp.mean((x - x_true) ** 2)
    return 10.0 * jnp.log10(data_range**2 / jnp.maximum(mse, 1e-20))


def _select(flag: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(flag, a, b), new, old)


def step(state: FitState, max_steps: jax.Array | int | None = None) -> tuple[FitState, StepAux]:
    """One optimisation step (pure). Steps after a stop, a divergence or ``max_steps`` are no-ops.

    The step's output ``x_t = G_theta_t(z + sigma_p eps_t)`` (the one the loss sees) feeds the
    output EMA, the best-loss iterate, the stopping rule and the PSNR in ``aux``.
    """
    key, k_noise = jax.random.split(state.key)
    net_params = _trainable(state.packed_params, state.z, state.optimize)

    def objective(trainable):
        params = state.layout.unpack(trainable.get("params", state.packed_params))
        z = trainable.get("z", state.z)
        # Drawn only when sigma_p > 0: a normal per input entry (skip net at 256x256: 2 M of them,
        # 50 ms when timed alone, 16 MB of the step's temporaries).
        z_in = jax.lax.cond(
            state.input_noise > 0,
            lambda z: z + state.input_noise * jax.random.normal(k_noise, z.shape, z.dtype),
            lambda z: z,
            z,
        )
        x = nnx.merge(state.graphdef, params, state.others)(z_in)
        data = state.loss(state.operator.apply(x), state.y)
        total = data
        if state.regularizer is not None:
            total = total + state.lam * state.regularizer(x)
        return total, (x, data)

    (total, (x, data)), grads = jax.value_and_grad(objective, has_aux=True)(net_params)
    # Frozen entries (param_filter) get a zero gradient in and a zero update out.
    grads = _masked(grads, state.train_mask)
    updates, opt_state = state.optimizer.update(grads, state.opt_state, net_params)
    new_trainable = optax.apply_updates(net_params, _masked(updates, state.train_mask))

    # One reduction over all gradient entries: 0 * g sums to 0 when every entry is finite and to NaN
    # otherwise (it cannot overflow). Per-leaf checks combined by scalar ops compile ~3x slower:
    # XLA:CPU copies the scalar chain into each of the ~1300 per-leaf update fusions.
    flat_grads = jnp.concatenate([jnp.ravel(g) for g in jax.tree.leaves(grads)])
    finite = jnp.isfinite(total) & jnp.isfinite(jnp.sum(0.0 * flat_grads))
    limit_ok = True if max_steps is None else state.step < max_steps
    running = ~state.stopped & ~state.diverged & limit_ok
    active = running & finite
    newly_diverged = running & ~finite

    decay = jnp.where(state.step == 0, 0.0, state.ema_decay)  # the average starts at x_0
    x_ema = decay * state.x_ema + (1.0 - decay) * x
    better = total < state.best_loss
    psnr = (
        jnp.asarray(jnp.nan, jnp.float32)
        if state.x_true is None
        else _psnr(x, state.x_true, state.data_range)
    )
    if state.stopping is None:
        stop_state, stopped, score = None, state.stopped, jnp.asarray(jnp.nan, jnp.float32)
    else:
        stop_state = state.stopping.update(state.stop_state, x, state.step)
        stopped = state.stopping.should_stop(stop_state)
        score = jnp.asarray(state.stopping.score(stop_state), jnp.float32)

    updated = dataclasses.replace(
        state,
        packed_params=new_trainable.get("params", state.packed_params),
        z=new_trainable.get("z", state.z),
        opt_state=opt_state,
        x_ema=x_ema,
        best_loss=jnp.where(better, total, state.best_loss),
        x_best=jnp.where(better, x, state.x_best),
        stop_state=stop_state,
        stopped=stopped,
        last_good=net_params,
    )
    new_state = _select(active, updated, state)
    # On divergence, roll back to the last variables whose loss and gradient were finite.
    current = _trainable(new_state.packed_params, new_state.z, state.optimize)
    restored = _select(newly_diverged, state.last_good, current)
    new_state = dataclasses.replace(
        new_state,
        packed_params=restored.get("params", new_state.packed_params),
        z=restored.get("z", new_state.z),
        key=key,
        step=state.step + active.astype(jnp.int32),
        diverged=state.diverged | newly_diverged,
        diverged_step=jnp.where(newly_diverged, state.step, state.diverged_step),
    )
    aux = StepAux(
        loss=total.astype(jnp.float32),
        data_loss=data.astype(jnp.float32),
        psnr=psnr,
        score=score,
        active=active,
    )
    return new_state, aux


def run(
    state: FitState, n: int, max_steps: jax.Array | int | None = None
) -> tuple[FitState, StepAux]:
    """``n`` steps of :func:`step` as one ``lax.scan`` (pure; ``n`` must be static under jit).

    Example (the user's own jit and vmap over seeds):
        >>> states = jax.vmap(lambda k: init(k, net, A, y))(jax.random.split(key, 4))  # doctest: +SKIP
        >>> states, aux = jax.jit(jax.vmap(lambda s: run(s, 100)))(states)  # doctest: +SKIP
    """

    def body(s, _):
        return step(s, max_steps)

    return jax.lax.scan(body, state, None, length=n)


# The measurement data a fit reads and never changes: kept out of the donated part of the state.
_DATA = ("operator", "y", "x_true")


@functools.partial(xla_options.jit, static_argnums=2, donate_argnums=0)
def _run_chunk(
    carry: FitState, data: dict, n: int, max_steps: jax.Array
) -> tuple[FitState, StepAux]:
    """:func:`run` compiled on ``carry`` (the state without its :data:`_DATA` fields, donated: the
    new one is written over it) and ``data`` (those fields); returns the new carry and the aux."""
    state, aux = run(dataclasses.replace(carry, **data), n, max_steps)
    return _split(state)[0], aux


def _split(state: FitState) -> tuple[FitState, dict]:
    """``(state without its _DATA fields, {field: value})``."""
    return dataclasses.replace(state, **dict.fromkeys(_DATA)), {k: getattr(state, k) for k in _DATA}


def _own(carry: FitState) -> FitState:
    """``carry`` with every array copied (no compile), so that donating it to :func:`_run_chunk`
    deletes none of the caller's arrays (a given model's parameters, the input code)."""
    return jax.tree.map(lambda a: jax.device_put(a, may_alias=False), carry)


@xla_options.jit
def _output_and_ssim(state: FitState) -> tuple[jax.Array, jax.Array | None]:
    """:func:`output` and, with ``x_true``, its SSIM: one program for the chunk ends and the end."""
    from jaxdip.metrics import ssim

    x = output(state)
    return x, None if state.x_true is None else ssim(x, state.x_true, state.data_range)


@dataclasses.dataclass
class FitResult:
    """The outcome of :func:`fit`.

    Attributes:
      x: output ``G_theta(z)`` at the final parameters and the clean code (the last finite
        iterate if the fit diverged).
      x_ema: output exponential moving average (equals the last step's output when ema is None).
      x_best_loss: the step output with the lowest training loss.
      x_detected: the iterate at the stopping rule's detected step (None without a rule).
      detected_step: the detected step (None without a rule).
      detection_gap: max PSNR over steps minus PSNR at the detected step (needs x_true and a rule).
      params, z: final parameters and input code.
      history: dict of per-step numpy arrays ``step``, ``loss``, ``data_loss``, ``psnr``,
        ``score``, and ``ssim_step``/``ssim`` at chunk ends when x_true is given.
      steps: steps run; diverged_step: step whose loss or gradient was not finite (or None);
      stopped: whether the stopping rule fired; seconds: wall time; compile_seconds: tracing and
      compiling the fitting loop (or loading it from a cache).
      state: the final :class:`FitState` (to continue with :func:`run`).
    """

    x: np.ndarray
    x_ema: np.ndarray
    x_best_loss: np.ndarray
    x_detected: np.ndarray | None
    detected_step: int | None
    detection_gap: float | None
    params: Any
    z: np.ndarray
    history: dict
    steps: int
    diverged_step: int | None
    stopped: bool
    seconds: float
    compile_seconds: float
    state: FitState = dataclasses.field(repr=False)

    @property
    def best_psnr(self) -> float | None:
        """Highest PSNR over the recorded steps (None without x_true)."""
        p = self.history.get("psnr")
        if p is None or len(p) == 0 or np.all(np.isnan(p)):
            return None
        return float(np.nanmax(p))


def fit(
    key: jax.Array,
    model: Any,
    operator: Operator,
    y: jax.Array,
    *,
    steps: int,
    chunk: int | None = None,
    progress: bool = True,
    **options: Any,
) -> FitResult:
    """Fit a DIP generator to the measurement ``y`` and return a :class:`FitResult`.

    ``options`` are those of :func:`init` (optimizer, loss, regularizer, lam, input_noise, ema,
    input_code, optimize, param_filter, x_true, stopping, data_range, pack_params). Steps run as
    compiled ``lax.scan`` chunks of ``chunk`` steps (default: about 1% of ``steps``, at least 10); between
    chunks a tqdm bar shows the step, loss and PSNR, the fit halts when the loss or a gradient is
    not finite (keeping the last finite iterate) or when the stopping rule fires (later steps in
    the chunk are masked, so the result is exact). Deterministic for a fixed key. Each chunk is
    given the state to overwrite (buffer donation: one state in memory, not two); it is copied from
    :func:`init` first, so a given model's arrays are kept, and ``y``, ``x_true`` and the operator
    are neither copied nor donated.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps!r}")
    if chunk is None:
        chunk = max(10, min(500, math.ceil(steps / 100)))
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk: expected a positive integer, got {chunk!r}")
    chunk = int(min(chunk, steps))
    start = time.perf_counter()
    carry, data = _split(init(key, model, operator, y, **options))
    carry = _own(carry)
    state = dataclasses.replace(carry, **data)
    max_steps = jnp.asarray(steps, jnp.int32)
    has_truth = state.x_true is not None
    records: list[StepAux] = []
    final = None  # (output, SSIM) of the latest state, when computed for the history
    ssim_steps, ssim_values = [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, unit="step", desc="jaxdip fit")
    # Compiled ahead of the loop, whose first call finds the program in jit's cache, so that the
    # heap XLA's compile freed can be released before the first step's buffers are allocated.
    t0 = time.perf_counter()
    _run_chunk.lower(carry, data, chunk, max_steps).compile()
    compile_seconds = time.perf_counter() - t0
    heap.release_free_heap()
    done = 0
    try:
        while done < steps:
            carry, aux = _run_chunk(carry, data, chunk, max_steps)
            state = dataclasses.replace(carry, **data)
            aux = jax.tree.map(np.asarray, aux)
            records.append(aux)
            now = int(state.step)
            if has_truth:
                ssim_steps.append(now)
                final = _output_and_ssim(state)
                ssim_values.append(float(final[1]))
            if bar is not None:
                bar.update(now - done)
                if aux.active.any():
                    last = int(np.flatnonzero(aux.active)[-1])
                    post = {"loss": f"{aux.loss[last]:.3e}"}
                    if has_truth:
                        post["psnr"] = f"{aux.psnr[last]:.2f}"
                    bar.set_postfix(post)
            if bool(state.diverged) or bool(state.stopped) or now == done:
                break
            done = now
    finally:
        if bar is not None:
            bar.close()
    stacked = jax.tree.map(lambda *a: np.concatenate(a), *records)
    active = stacked.active
    history = {
        "step": np.arange(int(active.sum())),
        "loss": stacked.loss[active],
        "data_loss": stacked.data_loss[active],
        "psnr": stacked.psnr[active],
        "score": stacked.score[active],
    }
    if has_truth:
        history["ssim_step"] = np.asarray(ssim_steps)
        history["ssim"] = np.asarray(ssim_values)
    detected_step = x_detected = gap = None
    if state.stopping is not None:
        d_step, d_x = state.stopping.detected(state.stop_state)
        detected_step = int(d_step)
        if detected_step >= 0:
            x_detected = np.asarray(d_x)
            if has_truth and detected_step < len(history["psnr"]):
                gap = float(np.nanmax(history["psnr"]) - history["psnr"][detected_step])
    # The state is the last chunk's, whose output the history already computed (with x_true).
    x = np.asarray((_output_and_ssim(state) if final is None else final)[0])
    diverged_step = int(state.diverged_step) if bool(state.diverged) else None
    if diverged_step is not None:
        import warnings

        warnings.warn(
            f"fit: loss or gradient not finite at step {diverged_step}; "
            "returning the last finite iterate",
            RuntimeWarning,
            stacklevel=2,
        )
    return FitResult(
        x=x,
        x_ema=np.asarray(state.x_ema),
        x_best_loss=np.asarray(state.x_best),
        x_detected=x_detected,
        detected_step=detected_step,
        detection_gap=gap,
        params=state.params,
        z=np.asarray(state.z),
        history=history,
        steps=int(state.step),
        diverged_step=diverged_step,
        stopped=bool(state.stopped),
        seconds=time.perf_counter() - start,
        compile_seconds=compile_seconds,
        state=state,
    )
