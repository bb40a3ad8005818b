"""Count XLA compiles of one jitted function through JAX's monitoring events."""

import contextlib

import jax

_BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def compiles_of(fun_name: str):
    """Yield a list that gets one entry (its duration) per XLA compile of a function whose name
    contains ``fun_name``, while the block runs."""
    compiles = []

    def listener(event, duration, **kwargs):
        if event == _BACKEND_COMPILE and fun_name in str(kwargs.get("fun_name", "")):
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield compiles
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
