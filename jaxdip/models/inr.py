"""Coordinate networks (implicit neural representations): pixel coordinates -> pixel values.

Input is a coordinate grid ``(H, W, 2)`` in ``[-1, 1]`` (:func:`jaxdip.models.codes.coordinates`);
the network acts on each pixel independently and returns ``(H, W, C)``.

* :class:`MLP`: ReLU MLP, optionally on random Fourier features (Tancik et al., NeurIPS 2020)
  ``gamma(v) = [cos(2 pi v B), sin(2 pi v B)]``, ``B (in, m) ~ N(0, sigma^2)`` fixed.
* :class:`SIREN` (Sitzmann et al., NeurIPS 2020): ``h_{l+1} = sin(omega0 (W_l h_l + b_l))``, linear
  head; first-layer weights ``U(-1/in, 1/in)``, later weights ``U(-sqrt(6/in)/omega0, +...)``.

Example:
    >>> import jax
    >>> from flax import nnx
    >>> net = SIREN(hidden=32, layers=2, rngs=nnx.Rngs(0))
    >>> net(net.make_input(jax.random.key(0), (8, 8))).shape
    (8, 8, 3)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from jaxdip.models.codes import check_hw, coordinates
from jaxdip.models.layers import (
    OUTPUTS,
    Dense,
    Frozen,
    _check_choice,
    _check_positive_int,
    apply_output,
)

__all__ = ["MLP", "SIREN"]


class _CoordinateNet(nnx.Module):
    """Shared input handling: ``input_shape``, ``make_input`` and the input check."""

    in_features: int

    def input_shape(self, out_hw: tuple[int, int]) -> tuple[int, int, int]:
        """``(H, W, in_features)``."""
        return (*check_hw("out_hw", out_hw), self.in_features)

    def make_input(self, key: jax.Array, out_hw: tuple[int, int]) -> jax.Array:
        """Coordinate grid ``(H, W, 2)`` in ``[-1, 1]`` (``key`` is unused: the code is fixed)."""
        del key
        if self.in_features != 2:
            raise ValueError(
                f"in_features: make_input builds a 2-D coordinate grid, the model takes "
                f"{self.in_features} features"
            )
        return coordinates(check_hw("out_hw", out_hw))

    def _check_input(self, x: jax.Array) -> None:
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x: expected shape (..., {self.in_features}), got {tuple(x.shape)}")


class MLP(_CoordinateNet):
    """ReLU MLP ``in_features -> hidden (x layers) -> out_channels`` per pixel.

    Args:
        in_features: coordinate dimension.
        hidden: width of the hidden layers.
        layers: number of hidden (affine + ReLU) layers; a linear head follows.
        out_channels: output channels.
        fourier_features: number ``m`` of random Fourier frequencies (0: raw coordinates); the
            first layer then sees ``2 m`` features. ``B`` is a :class:`~jaxdip.models.layers.Frozen`
            parameter (zero gradient).
        fourier_scale: standard deviation ``sigma`` of ``B``.
        output: ``'sigmoid'`` or ``'none'``.
        rngs: ``nnx.Rngs``; layers use the PyTorch ``nn.Linear`` init.

    Parameters: ``n0 h + h + (layers - 1)(h^2 + h) + h C + C`` (+ ``m in_features`` for ``B``), with
    ``n0 = 2 m`` or ``in_features``.
    """

    def __init__(
        self,
        *,
        in_features: int = 2,
        hidden: int = 256,
        layers: int = 4,
        out_channels: int = 3,
        fourier_features: int = 0,
        fourier_scale: float = 10.0,
        output: str = "sigmoid",
        rngs: nnx.Rngs,
    ):
        self.in_features = _check_positive_int("in_features", in_features)
        hidden = _check_positive_int("hidden", hidden)
        self.layers = _check_positive_int("layers", layers)
        out_channels = _check_positive_int("out_channels", out_channels)
        m = _check_positive_int("fourier_features", fourier_features, 0)
        if not (math.isfinite(fourier_scale) and fourier_scale > 0):
            raise ValueError(
                f"fourier_scale: expected a finite positive number, got {fourier_scale!r}"
            )
        self.output = _check_choice("output", output, OUTPUTS)
        if m > 0:
            b = fourier_scale * jax.random.normal(rngs.params(), (self.in_features, m), jnp.float32)
            self.fourier_basis = Frozen(b)
            width = 2 * m
        else:
            self.fourier_basis = None
            width = self.in_features
        dims = [width] + [hidden] * self.layers
        self.hidden_layers = nnx.List([Dense(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
        self.head = Dense(hidden, out_channels, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        self._check_input(x)
        if self.fourier_basis is not None:
            proj = 2 * jnp.pi * (x @ jax.lax.stop_gradient(self.fourier_basis[...]))
            x = jnp.concatenate([jnp.cos(proj), jnp.sin(proj)], axis=-1)
        for layer in self.hidden_layers:
            x = jax.nn.relu(layer(x))
        return apply_output(self.head(x), self.output)


class SIREN(_CoordinateNet):
    """Sine-activated MLP (SIREN) ``in_features -> hidden (x layers) -> out_channels`` per pixel.

    Args:
        in_features: coordinate dimension.
        hidden: width of the hidden layers.
        layers: number of sine layers ``sin(omega0 (W h + b))``; a linear head follows.
        omega0: frequency factor (30 in the paper), used in every sine layer.
        out_channels: output channels.
        output: ``'none'`` (paper) or ``'sigmoid'``.
        rngs: ``nnx.Rngs``. Weights: first layer ``U(+-1/in)``, others and the head
            ``U(+-sqrt(6/in)/omega0)``; biases ``U(+-1/sqrt(in))`` (PyTorch default).

    Parameters: ``in h + h + (layers - 1)(h^2 + h) + h C + C``.
    """

    def __init__(
        self,
        *,
        in_features: int = 2,
        hidden: int = 256,
        layers: int = 4,
        omega0: float = 30.0,
        out_channels: int = 3,
        output: str = "none",
        rngs: nnx.Rngs,
    ):
        self.in_features = _check_positive_int("in_features", in_features)
        hidden = _check_positive_int("hidden", hidden)
        self.layers = _check_positive_int("layers", layers)
        out_channels = _check_positive_int("out_channels", out_channels)
        if not (math.isfinite(omega0) and omega0 > 0):
            raise ValueError(f"omega0: expected a finite positive number, got {omega0!r}")
        self.omega0 = float(omega0)
        self.output = _check_choice("output", output, OUTPUTS)
        later = math.sqrt(6.0 / hidden) / self.omega0
        sine = [Dense(self.in_features, hidden, weight_bound=1.0 / self.in_features, rngs=rngs)]
        for _ in range(self.layers - 1):
            sine.append(Dense(hidden, hidden, weight_bound=later, rngs=rngs))
        self.sine_layers = nnx.List(sine)
        self.head = Dense(hidden, out_channels, weight_bound=later, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        self._check_input(x)
        for layer in self.sine_layers:
            x = jnp.sin(self.omega0 * layer(x))
        return apply_output(self.head(x), self.output)
