"""Step time of jaxdip generators against PyTorch and deepinv, side by side on one machine.

One step = forward, MSE loss against a fixed target, backward, Adam update (lr 0.01), on one image.
Frameworks (``--frameworks``):

* ``jax``: jaxdip's Flax NNX model fitted by ``jaxdip.fit``'s own compiled chunk (``_run_chunk``:
  ``--chunk`` steps, default 10, as one ``lax.scan`` of ``jaxdip.fit.step``, compiled with
  ``jaxdip.xla_options.compiler_options()``, recorded as ``jax_compiler_options``; its state packed,
  copied once and donated to each call), with fit's default Adam and the identity operator, so the
  step also keeps fit's bookkeeping (output EMA, best-loss iterate, NaN check); the per-step time is
  the call's time divided by ``chunk``. ``--chunk 1`` times one jitted step per call instead:
  XLA:CPU then allocates the step's temporary buffers afresh on every call and the kernel
  zero-fills their pages (about 0.9 GB and 0.3 s of system time per step for skip at 256), which a
  scan pays once per chunk;
* ``torch``: the eager PyTorch ports of ``torch_skip.py`` (skip and deep_decoder);
* ``deepinv``: conv_decoder only: ``deepinv.models.ConvDecoder`` with jaxdip's default sizes, fitted
  by deepinv's user-facing loop ``deepinv.models.DeepImagePrior`` (see ``deepinv_worker.py``). It
  runs in the interpreter given by ``--deepinv-python`` (default: ``$JAXDIP_DEEPINV_PYTHON``, else
  this interpreter if it can ``import deepinv``; failing both, deepinv is skipped with a note on
  stderr and its fields are null), since deepinv needs a torchvision build jaxdip's venv lacks.

Every (model, size, framework) runs in a fresh subprocess pinned to the same CPU cores with the same
thread count. Inputs and targets are the same numbers for every framework (``_data``, numpy seed 0).
Reported per (model, size), with ``F`` one of jax / torch / deepinv (null where F did not run):

* ``F_s``: median seconds per step over ``--repeats`` timed calls after ``--warmup`` untimed ones
  (``F_times``: all of them; a jax call is ``chunk`` steps); ``ratio = jax_s / torch_s``,
  ``deepinv_ratio = jax_s / deepinv_s``;
* ``jax_compile_s``: time to the compiled program, ``jax_trace_s`` (trace and lower) plus
  ``jax_xla_compile_s`` (XLA), the median over rounds (``jax_compile_round_s``: each round's;
  the other ``jax_`` compile fields are the last round's); ``jax_xla_compile_cpu_s``: the XLA
  compile's CPU time over all threads, steadier than wall time on a shared VM;
  ``jax_first_run_s``: its first call (``chunk`` steps);
  ``torch_first_step_s`` / ``deepinv_first_step_s``: the first eager step, for comparison;
* memory of the worker process, MB: ``F_peak_rss_mb`` is the peak over the whole run (``ru_maxrss``;
  for JAX mostly the XLA compiler's); ``F_base_rss_mb`` the resident set after imports, model build
  and data, before the first step; ``F_step_peak_rss_mb`` the peak while fitting: over the steps
  after the first (warm-up and timed). Linux only: after the first step, freed heap is handed back
  to the OS (glibc ``malloc_trim``: the compiler's, say) and the kernel's high-water mark is reset
  (``5`` into ``/proc/self/clear_refs``); ``VmHWM`` is read after the last timed step. Resetting
  before the warm-up rather than after it puts the page faults that refill trimmed memory in the
  warm-up, not in the timed steps. Where this is impossible the field is null (``rss_note``: why);
  ``jax_xla_temp_mb`` / ``jax_xla_argument_mb`` / ``jax_xla_output_mb``: the compiled step's own
  buffers from XLA's ``memory_analysis()``;
* ``F_params``: parameter counts (jaxdip's ConvDecoder and deepinv's must agree; a mismatch is
  reported on stderr); ``deepinv_version``;
* ``jax_step_flops``: the matrix-product FLOPs of one step (forward, backward and update), counted
  on jaxdip's own traced program by ``_flops.matmul_flops`` (on CPU its products, which include
  ``2 / H`` boundary rows; on GPU XLA's convolutions); ``F_tflops``: that count over ``F_s``, the
  same count for every framework (the networks are the same; the parameter counts say so);
* with ``--device gpu``: ``F_device_peak_mb`` (the GPU memory peak: JAX's allocator's
  ``peak_bytes_in_use`` over the whole run; PyTorch's ``max_memory_allocated`` over the steps after
  the first) and ``F_device_base_mb`` (in use before the first step); ``gpu_peak_tflops`` (the
  datasheet's dense FP32 and TF32 tensor-core rates, ``_flops.GPU_PEAK_TFLOPS``) and
  ``F_fraction_fp32_peak`` / ``F_fraction_tf32_peak``, ``F_tflops`` over each; the precision
  settings that decide which peak applies (``jax_default_matmul_precision``, PyTorch's
  ``allow_tf32`` flags as ``torch_tf32`` / ``deepinv_tf32``).

Usage::

    python bench/step_time.py                       # skip, deep_decoder, conv_decoder at 128, 256
    python bench/step_time.py --sizes 128 256 512 --models skip --repeats 5
    python bench/step_time.py --quick --sizes 32 --frameworks jax --out /tmp/t.json
    python bench/step_time.py --models conv_decoder --frameworks jax deepinv \\
        --deepinv-python ../venv-deepinv/bin/python
    python bench/step_time.py --device gpu --sizes 256 512 --rounds 3 --deepinv-python python3

``--device gpu`` runs every framework on the first GPU (JAX's default backend must be a GPU, and
torch must see CUDA; either failing stops the run with the reason); ``bench/gpu_run.sh`` is that
run on a lent GPU machine. Results go to ``bench/results/step_time_{cpu,gpu}.json`` (written
atomically) unless ``--out`` is given.
This module imports only the standard library at top level (numpy inside ``_data``):
``deepinv_worker.py`` imports its helpers in an interpreter without jax.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

from _common import machine, version  # standard library only, like this module's top level
from _flops import gpu_peak_tflops  # standard library only too

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICES = ("cpu", "gpu")
MODELS = ("skip", "deep_decoder", "conv_decoder")
FRAMEWORKS = ("jax", "torch", "deepinv")
TORCH_MODELS = ("skip", "deep_decoder")
DEEPINV_MODELS = ("conv_decoder",)
DEEPINV_ENV = "JAXDIP_DEEPINV_PYTHON"
DEEPINV_WORKER = os.path.join(HERE, "deepinv_worker.py")
# jaxdip.models.conv_decoder.ConvDecoder defaults, which the deepinv model is built with.
CONV_DECODER = {"in_hw": (8, 4), "channels": 160, "num_layers": 8, "out_channels": 2}


def _pin(threads: int) -> None:
    """Use the first ``threads`` cores of this process's affinity set (Linux), else nothing."""
    if hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cores)


def _data(model: str, size: int):
    """Input code and target (numpy float32, HWC) shared by all frameworks."""
    import numpy as np

    rng = np.random.default_rng(0)
    if model == "skip":
        z = rng.uniform(0, 0.1, (size, size, 32))
        y = rng.uniform(0, 1, (size, size, 3))
    elif model == "deep_decoder":
        z = rng.uniform(0, 0.1, (size // 32, size // 32, 64))
        y = rng.uniform(0, 1, (size, size, 3))
    else:
        h0, w0 = CONV_DECODER["in_hw"]
        z = rng.uniform(0, 1, (h0, w0, CONV_DECODER["channels"]))
        y = rng.normal(0, 1, (size, size, CONV_DECODER["out_channels"]))
    return z.astype(np.float32), y.astype(np.float32)


def _peak_rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def _status_mb(field: str) -> float | None:
    """``field`` (``VmRSS``, ``VmHWM``) of ``/proc/self/status`` in MB; None where there is none."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


class Memory:
    """Resident memory of this worker: process peak, baseline, peak over the steps after the first.

    Call :meth:`base` before the first step, :meth:`steps_start` right after it (before the
    warm-up) and :meth:`steps_end` right after the last timed step; :meth:`fields` gives the
    worker's JSON fields.
    """

    def __init__(self):
        self.base_mb = self.step_peak_mb = self.peak_before_mb = None
        self.note = None

    def base(self) -> None:
        self.base_mb = _status_mb("VmRSS")
        if self.base_mb is None:
            self.note = "no /proc/self/status: base and step-peak RSS not measured"

    def steps_start(self) -> None:
        # Resetting VmHWM also resets ru_maxrss, so the process peak so far is kept first.
        self.peak_before_mb = _peak_rss_mb()
        if self.note is not None:
            return
        if sys.platform.startswith("linux"):
            try:  # freed heap (the compiler's, say) would otherwise count as in use
                import ctypes

                ctypes.CDLL("libc.so.6").malloc_trim(0)
            except (OSError, AttributeError):
                pass
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError as e:
            self.note = f"step-peak RSS not measured: cannot reset VmHWM ({e.__class__.__name__})"

    def steps_end(self) -> None:
        if self.note is None:
            self.step_peak_mb = _status_mb("VmHWM")

    def fields(self) -> dict:
        # The process peak covers the steps' peak: ru_maxrss and VmHWM are read at different times
        # and can differ by a few pages (seen: 418.90 vs 418.97 MB), so take the larger.
        peak = max(x for x in (_peak_rss_mb(), self.peak_before_mb, self.step_peak_mb)
                   if x is not None)
        return {
            "peak_rss_mb": peak,
            "base_rss_mb": self.base_mb,
            "step_peak_rss_mb": self.step_peak_mb,
            "rss_note": self.note,
        }


def _device_mb(device) -> tuple[float | None, float | None]:
    """A JAX device's memory in use and its peak, MB (None each where the backend keeps none)."""
    stats = device.memory_stats() or {}
    return tuple(stats[k] / 2**20 if k in stats else None
                 for k in ("bytes_in_use", "peak_bytes_in_use"))


def _jax_model(model: str, size: int):
    """jaxdip's network ``model`` for ``size`` x ``size`` outputs, built eagerly from seed 0, and its
    parameter count."""
    import jax
    import numpy as np
    from flax import nnx

    from jaxdip.models.conv_decoder import ConvDecoder
    from jaxdip.models.deep_decoder import DeepDecoder
    from jaxdip.models.skip import Skip

    rngs = nnx.Rngs(0)
    if model == "skip":
        net = Skip(rngs=rngs)
    elif model == "deep_decoder":
        net = DeepDecoder(rngs=rngs)
    else:
        net = ConvDecoder(out_hw=(size, size), rngs=rngs)
    n_params = int(sum(np.size(leaf) for leaf in jax.tree.leaves(nnx.state(net, nnx.Param))))
    return net, n_params


def _jax_fit_chunk_args(net, model: str, size: int):
    """The arguments of ``jaxdip.fit._run_chunk`` but its length: ``(carry, data, max_steps)``.

    jaxdip.fit's own state (its default Adam, lr 0.01, and MSE loss against ``_data``'s target,
    identity operator): packed, and copied once so that it can be donated to each call, as fit does.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxdip import fit as engine
    from jaxdip.operators import Identity

    z, y = (jnp.asarray(a) for a in _data(model, size))
    state = engine.init(jax.random.key(0), net, Identity(y.shape), y, input_code=z)
    carry, data = engine._split(state)
    max_steps = jnp.asarray(np.iinfo(np.int32).max, jnp.int32)  # no step is masked
    return engine._own(carry), data, max_steps


def _worker_jax(model: str, size: int, warmup: int, repeats: int, chunk: int, device: str) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from _flops import matmul_flops
    from jaxdip import fit as engine
    from jaxdip import heap
    from jaxdip.xla_options import compiler_options

    jax.block_until_ready(jnp.zeros(()) + 1)  # start the backend
    if jax.default_backend() != device:
        raise RuntimeError(f"--device {device}: JAX's default backend is {jax.default_backend()}")
    net, n_params = _jax_model(model, size)
    carry, data, max_steps = _jax_fit_chunk_args(net, model, size)
    del net

    mem = Memory()
    mem.base()
    device_base_mb, _ = _device_mb(jax.devices()[0])
    # The first call, done ahead of time so that tracing and compiling are timed apart.
    t_start = time.perf_counter()
    traced = engine._run_chunk.trace(carry, data, chunk, max_steps)
    lowered = traced.lower()
    t_lowered = time.perf_counter()
    step_flops = matmul_flops(traced.jaxpr) // chunk  # the scan's length is chunk
    cpu_lowered = time.process_time()
    compiled = lowered.compile()
    t_compiled = time.perf_counter()
    xla_compile_cpu_s = time.process_time() - cpu_lowered
    heap.release_free_heap()  # as jaxdip.fit.fit does between compiling and the first step
    carry, aux = jax.block_until_ready(compiled(carry, data, max_steps))
    compile_s = time.perf_counter() - t_start
    mem.steps_start()
    for _ in range(warmup):
        carry, aux = jax.block_until_ready(compiled(carry, data, max_steps))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        carry, aux = jax.block_until_ready(compiled(carry, data, max_steps))
        times.append((time.perf_counter() - t0) / chunk)
    mem.steps_end()
    _, device_peak_mb = _device_mb(jax.devices()[0])
    if not bool(np.all(aux.active)):
        raise RuntimeError(f"jax worker: {model} at {size} stopped or diverged while timed")
    res = {
        "times": times, "first_s": compile_s, "trace_s": t_lowered - t_start,
        "xla_compile_s": t_compiled - t_lowered, "xla_compile_cpu_s": xla_compile_cpu_s,
        "first_run_s": compile_s - (t_compiled - t_start),
        "loss": float(aux.loss[-1]), "params": n_params, "chunk": chunk,
        "compiler_options": compiler_options(), "step_flops": step_flops,
        "device_base_mb": device_base_mb, "device_peak_mb": device_peak_mb,
        "default_matmul_precision": str(jax.config.jax_default_matmul_precision),
    }
    try:
        stats = compiled.memory_analysis()
        for k in ("temp", "argument", "output"):
            res[f"xla_{k}_mb"] = getattr(stats, f"{k}_size_in_bytes") / 2**20
    except Exception as e:  # not every backend or version reports it
        res["xla_note"] = f"memory_analysis unavailable ({e.__class__.__name__})"
    res.update(mem.fields())
    return res


class TorchDevice:
    """The torch device of ``--device`` (``cpu`` or ``gpu``: the first CUDA device), with what the
    torch workers need on it: :meth:`sync` (waits for the GPU's queued work, so that a step's
    time is its run, not its launch) and the GPU memory fields."""

    def __init__(self, torch, device: str):
        if device == "gpu" and not torch.cuda.is_available():
            raise RuntimeError(f"--device gpu: torch {torch.__version__} sees no CUDA device")
        self.torch, self.gpu = torch, device == "gpu"
        self.device = torch.device("cuda" if self.gpu else "cpu")
        self.base_mb = None

    def sync(self) -> None:
        if self.gpu:
            self.torch.cuda.synchronize()

    def base(self) -> None:
        """Before the first step: the memory in use."""
        if self.gpu:
            self.base_mb = self.torch.cuda.memory_allocated() / 2**20

    def steps_start(self) -> None:
        """After the first step: the peak counts from here."""
        if self.gpu:
            self.torch.cuda.reset_peak_memory_stats()

    def fields(self) -> dict:
        cuda = self.torch.backends.cuda
        return {
            "device_base_mb": self.base_mb,
            "device_peak_mb": self.torch.cuda.max_memory_allocated() / 2**20 if self.gpu else None,
            "tf32": {"matmul": cuda.matmul.allow_tf32,
                     "cudnn": self.torch.backends.cudnn.allow_tf32} if self.gpu else None,
        }


def _worker_torch(model: str, size: int, warmup: int, repeats: int, threads: int,
                  device: str) -> dict:
    import torch

    sys.path.insert(0, HERE)
    from torch_skip import TorchDeepDecoder, skip_net

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = TorchDevice(torch, device)
    net = (skip_net() if model == "skip" else TorchDeepDecoder().train()).to(dev.device)
    z, y = (torch.from_numpy(a).permute(2, 0, 1)[None].contiguous().to(dev.device)
            for a in _data(model, size))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((net(z) - y) ** 2)
        loss.backward()
        opt.step()
        dev.sync()
        return loss

    mem = Memory()
    mem.base()
    dev.base()
    t0 = time.perf_counter()
    step()
    first_s = time.perf_counter() - t0
    mem.steps_start()
    dev.steps_start()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    mem.steps_end()
    n_params = sum(p.numel() for p in net.parameters())
    res = {"times": times, "first_s": first_s, "loss": loss.item(), "params": n_params}
    return {**res, **mem.fields(), **dev.fields()}


def _run_worker(framework, model, size, args) -> dict:
    common = [model, str(size), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
              "--threads", str(args.threads), "--device", args.device]
    if framework == "deepinv":
        cmd = [args.deepinv_python, DEEPINV_WORKER, *common]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, *common,
               "--chunk", str(args.chunk)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{framework} {model} {size} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _find_deepinv(path: str | None) -> tuple[str | None, dict]:
    """The interpreter for the deepinv worker and its versions, or (None, {}) with a note on stderr.

    ``path`` (``--deepinv-python``), else ``$JAXDIP_DEEPINV_PYTHON``, else this interpreter; it is
    probed by running ``deepinv_worker.py --probe`` there.
    """
    source = "--deepinv-python"
    if not path:
        path, source = os.environ.get(DEEPINV_ENV), DEEPINV_ENV
    if not path:
        path, source = sys.executable, "this interpreter"
    try:
        proc = subprocess.run(
            [path, DEEPINV_WORKER, "--probe"], capture_output=True, text=True, timeout=600
        )
        if proc.returncode == 0:
            return path, json.loads(proc.stdout.strip().splitlines()[-1])
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
        why = f"{e.__class__.__name__}: {e}"
    print(
        f"deepinv not usable with {path} ({source}): {why}\n"
        f"  skipping deepinv (its fields are null); give --deepinv-python or {DEEPINV_ENV} "
        "(setup: bench/README.md)",
        file=sys.stderr,
    )
    return None, {}


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def _row(model: str, size: int, rounds: list[dict], peak: dict | None = None) -> dict:
    """One JSON row from the worker results ``rounds[i][framework]`` (absent where it did not run).

    Times are per round (median of the round's timed calls) and then the median over rounds;
    ratios are taken within each round (the workers of a round ran back to back) and then the
    median over rounds. Memory, parameter counts and the other fields are the first round's.
    ``peak``: the GPU's :func:`_flops.gpu_peak_tflops` entry, for the fractions of peak.
    """
    runs = rounds[0]
    row = {"model": model, "size": size, "rounds": len(rounds)}
    for fw in FRAMEWORKS:
        per_round = [_median(r[fw]["times"]) for r in rounds if r.get(fw)]
        row[f"{fw}_s"] = _median(per_round) if per_round else None
        row[f"{fw}_round_s"] = per_round or None
    j, t, d = runs.get("jax"), runs.get("torch"), runs.get("deepinv")
    for key, fw, ok in (("ratio", "torch", j and t), ("deepinv_ratio", "deepinv", j and d)):
        per_round = [a / b for a, b in zip(row["jax_round_s"] or [], row[f"{fw}_round_s"] or [])]
        row[key] = _median(per_round) if ok else None
        row[f"{key}_rounds"] = per_round if ok else None
    compiles = [r["jax"]["trace_s"] + r["jax"]["xla_compile_s"] for r in rounds if r.get("jax")]
    row["jax_compile_s"] = _median(compiles) if compiles else None
    row["jax_compile_round_s"] = compiles or None
    for k in ("trace_s", "xla_compile_s", "xla_compile_cpu_s", "first_run_s", "chunk",
              "compiler_options"):
        row[f"jax_{k}"] = j.get(k) if j else None
    row["torch_first_step_s"] = t["first_s"] if t else None
    row["deepinv_first_step_s"] = d["first_s"] if d else None
    for k in ("peak_rss_mb", "step_peak_rss_mb", "base_rss_mb"):
        for fw in FRAMEWORKS:
            r = runs.get(fw)
            row[f"{fw}_{k}"] = r.get(k) if r else None
    for k in ("xla_temp_mb", "xla_argument_mb", "xla_output_mb"):
        row[f"jax_{k}"] = j.get(k) if j else None
    notes = {f"{fw}: {runs[fw][k]}" for fw in FRAMEWORKS if runs.get(fw)
             for k in ("rss_note", "xla_note") if runs[fw].get(k)}
    row["rss_note"] = "; ".join(sorted(notes)) or None
    for fw in FRAMEWORKS:
        r = runs.get(fw)
        row[f"{fw}_params"] = r.get("params") if r else None
    row["deepinv_version"] = d.get("deepinv_version") if d else None
    for fw in FRAMEWORKS:
        times = [x for r in rounds if r.get(fw) for x in r[fw]["times"]]
        row[f"{fw}_times"] = times or None
    flops = row["jax_step_flops"] = j.get("step_flops") if j else None
    for fw in FRAMEWORKS:
        r, secs = runs.get(fw), row[f"{fw}_s"]
        rate = flops / secs / 1e12 if flops and secs else None
        row[f"{fw}_tflops"] = rate
        for kind in ("fp32", "tf32"):
            top = peak.get(f"{kind}_dense" if kind == "tf32" else kind) if peak else None
            row[f"{fw}_fraction_{kind}_peak"] = rate / top if rate and top else None
        for k in ("device_peak_mb", "device_base_mb"):
            row[f"{fw}_{k}"] = r.get(k) if r else None
    for fw in ("torch", "deepinv"):
        row[f"{fw}_tf32"] = runs[fw].get("tf32") if runs.get(fw) else None
    row["jax_default_matmul_precision"] = j.get("default_matmul_precision") if j else None
    return row


def _print_row(row: dict) -> None:
    fmt = lambda v, f="{:.3f}": "-" if v is None else f.format(v)  # noqa: E731

    def rss(fw):
        vals = [row[f"{fw}_{k}"] for k in ("peak_rss_mb", "step_peak_rss_mb", "base_rss_mb")]
        return "-" if vals[0] is None else "/".join(fmt(v, "{:.0f}") for v in vals)

    print(
        f"{row['model']:13s} {row['size']:4d}  jax {fmt(row['jax_s'])} s "
        f"({fmt(row['jax_tflops'], '{:.2f}')} TFLOP/s)  "
        f"torch {fmt(row['torch_s'])} s  ratio {fmt(row['ratio'], '{:.2f}')}  "
        f"deepinv {fmt(row['deepinv_s'])} s  ratio {fmt(row['deepinv_ratio'], '{:.2f}')}  "
        f"compile {fmt(row['jax_compile_s'], '{:.1f}')} s  "
        f"rss peak/steps/base MB: jax {rss('jax')} torch {rss('torch')} deepinv {rss('deepinv')}",
        flush=True,
    )


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="image sizes (default 128 256)")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    p.add_argument("--repeats", type=int, default=5, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps after the first")
    p.add_argument("--threads", type=int, default=2, help="CPU cores/threads for every framework")
    p.add_argument(
        "--device", choices=DEVICES, default="cpu",
        help="where every framework runs: cpu (default) or gpu (the first CUDA device)",
    )
    p.add_argument("--quick", action="store_true", help="smoke test: size 32, 1 repeat, no warm-up")
    p.add_argument(
        "--deepinv-python", default=None, metavar="PATH",
        help=f"interpreter with torch + deepinv for the deepinv worker (default: ${DEEPINV_ENV}, "
        "else this one if it can import deepinv)",
    )
    p.add_argument(
        "--chunk", type=int, default=10,
        help="jax: steps per jitted call, run as one lax.scan as jaxdip.fit does (default 10, "
        "fit's smallest chunk); 1 times one jitted step per call",
    )
    p.add_argument(
        "--rounds", type=int, default=1,
        help="run every framework's worker this many times, alternating (jax, torch, deepinv, "
        "jax, ...); times and ratios are medians over rounds (default 1)",
    )
    p.add_argument(
        "--out", default=None, help="JSON output path (default bench/results/step_time_DEVICE.json)"
    )
    p.add_argument("--worker", nargs=3, metavar=("FRAMEWORK", "MODEL", "SIZE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup, args.chunk = 1, 0, min(args.chunk, 2)
        args.sizes = args.sizes or [32]
    args.sizes = args.sizes or [128, 256]
    for s in args.sizes:
        if s < 32 or s % 32:
            p.error(f"--sizes: expected multiples of 32 (5 scales of the skip net), got {s}")
    if args.repeats < 1 or args.warmup < 0 or args.chunk < 1 or args.rounds < 1:
        p.error("--repeats, --chunk and --rounds must be >= 1 and --warmup >= 0")

    if args.worker:
        framework, model, size = args.worker[0], args.worker[1], int(args.worker[2])
        _pin(args.threads)
        if framework == "jax":
            res = _worker_jax(model, size, args.warmup, args.repeats, args.chunk, args.device)
        else:
            res = _worker_torch(model, size, args.warmup, args.repeats, args.threads, args.device)
        print(json.dumps(res))
        return res

    import jax

    if jax.default_backend() != args.device:
        p.error(
            f"--device {args.device}: JAX's default backend here is {jax.default_backend()} "
            f"({jax.devices()[0].device_kind})"
        )
    args.out = args.out or os.path.join(HERE, "results", f"step_time_{args.device}.json")
    peak = gpu_peak_tflops(str(jax.devices()[0].device_kind)) if args.device == "gpu" else None
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    has_torch = version("torch") is not None
    if "torch" in args.frameworks and not has_torch:
        print("torch is not installed: timing jaxdip only (ratios null)", file=sys.stderr)
    deepinv_info = {}
    if "deepinv" in args.frameworks and any(m in DEEPINV_MODELS for m in args.models):
        args.deepinv_python, deepinv_info = _find_deepinv(args.deepinv_python)
    else:
        args.deepinv_python = None
    rows = []
    for model in args.models:
        for size in args.sizes:
            # BatchNorm in training mode needs more than one pixel at the coarsest scale.
            torch_ok = model in TORCH_MODELS and not (model == "skip" and size < 64)
            rounds = []
            for _ in range(args.rounds):  # the frameworks alternate, round after round
                runs = {}
                if "jax" in args.frameworks:
                    runs["jax"] = _run_worker("jax", model, size, args)
                if "torch" in args.frameworks and has_torch and torch_ok:
                    runs["torch"] = _run_worker("torch", model, size, args)
                if args.deepinv_python and model in DEEPINV_MODELS:
                    runs["deepinv"] = _run_worker("deepinv", model, size, args)
                rounds.append(runs)
            row = _row(model, size, rounds, peak)
            if None not in (row["jax_params"], row["deepinv_params"]) and (
                row["jax_params"] != row["deepinv_params"]
            ):
                print(
                    f"warning: {model} {size}: jaxdip has {row['jax_params']} parameters, "
                    f"deepinv {row['deepinv_params']}: not the same network",
                    file=sys.stderr,
                )
            rows.append(row)
            _print_row(row)
    result = {
        "benchmark": "step_time",
        "step": "forward + MSE + backward + Adam(lr 0.01), one image",
        "deepinv_step": (
            "deepinv.models.DeepImagePrior(ConvDecoder(img_size=(2, H, W), in_size=(8, 4), "
            "layers=8, channels=160), iterations=1 + warmup + repeats, learning_rate=0.01) on y "
            "with physics Denoising (A = identity); per-step time between consecutive generator "
            "forwards (bench/deepinv_worker.py)"
        ),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        # 1-minute load averages before and after: timings are only comparable on a quiet machine.
        "machine": machine(
            load_avg_1min_before=load_before[0] if load_before else None,
            load_avg_1min_after=os.getloadavg()[0] if load_before else None,
        ),
        "device": str(jax.devices()[0].device_kind),
        "backend": jax.default_backend(),
        "gpu_peak_tflops": peak,
        "threads": args.threads,
        "repeats": args.repeats,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "jax_chunk": args.chunk,
        "deepinv_python": args.deepinv_python,
        "versions": {
            "python": platform.python_version(),
            "jax": version("jax"),
            "jaxlib": version("jaxlib"),
            "flax": version("flax"),
            "optax": version("optax"),
            "torch": version("torch"),
            # The deepinv worker's own interpreter (another venv, as a rule).
            "deepinv": deepinv_info.get("deepinv"),
            "deepinv_torch": deepinv_info.get("torch"),
            "deepinv_python_version": deepinv_info.get("python"),
        },
        "results": rows,
    }
    from jaxdip.io import write_json

    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
