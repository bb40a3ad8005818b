"""Generator networks (Flax NNX) and their input codes.

Every model is built as ``Model(..., rngs=nnx.Rngs(key))`` and maps ONE input code (no batch axis)
to an image ``(H, W, C)``; ``model.input_shape(out_hw)`` gives the code shape for an output size and
``model.make_input(key, out_hw)`` the reference code. The only state is ``nnx.Param``, so
``graphdef, params = nnx.split(model, nnx.Param)`` and ``nnx.merge(graphdef, params)(z)`` is a pure
function of ``params``.

Example:
    >>> import jax
    >>> from flax import nnx
    >>> from jaxdip.models import DeepDecoder, count_params
    >>> count_params(DeepDecoder(channels=64, rngs=nnx.Rngs(0)))
    25536
"""

from jaxdip.models.codes import coordinates, meshgrid, normal_noise, uniform_noise
from jaxdip.models.conv_decoder import ConvDecoder
from jaxdip.models.deep_decoder import DeepDecoder
from jaxdip.models.inr import MLP, SIREN
from jaxdip.models.layers import (
    ChannelNorm,
    Conv2d,
    Dense,
    Frozen,
    count_params,
    upsample_bilinear2x,
    upsample_nearest2x,
)
from jaxdip.models.skip import Skip

__all__ = [
    "Skip",
    "DeepDecoder",
    "ConvDecoder",
    "MLP",
    "SIREN",
    "uniform_noise",
    "normal_noise",
    "meshgrid",
    "coordinates",
    "count_params",
    "Conv2d",
    "Dense",
    "ChannelNorm",
    "Frozen",
    "upsample_bilinear2x",
    "upsample_nearest2x",
]
