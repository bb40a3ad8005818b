"""Forward operators as pytrees (see :mod:`jaxdip.operators.base`).

Linear: Identity, Inpainting, Blur, Downsample, GaussianCS, StructuredCS, MRI, Radon, Integration,
Matrix, ChannelsToComplex; non-linear: FourierMagnitude, GaussianPhaseRetrieval.
"""

from jaxdip.operators.base import (
    Composed,
    LinearOperator,
    Operator,
    operator_dataclass,
    power_norm,
    static_field,
)
from jaxdip.operators.blur import Blur
from jaxdip.operators.complex_channels import ChannelsToComplex
from jaxdip.operators.compressed_sensing import GaussianCS, StructuredCS
from jaxdip.operators.downsample import Downsample, downsample_kernel
from jaxdip.operators.identity import Identity
from jaxdip.operators.inpainting import Inpainting
from jaxdip.operators.integration import Integration
from jaxdip.operators.matrix import Matrix
from jaxdip.operators.mri import MRI, fft2c, ifft2c, rss
from jaxdip.operators.phase_retrieval import FourierMagnitude, GaussianPhaseRetrieval
from jaxdip.operators.radon import FBP_FILTERS, Radon

__all__ = [
    "Blur",
    "ChannelsToComplex",
    "Composed",
    "Downsample",
    "FBP_FILTERS",
    "FourierMagnitude",
    "GaussianCS",
    "GaussianPhaseRetrieval",
    "Identity",
    "Inpainting",
    "Integration",
    "LinearOperator",
    "MRI",
    "Matrix",
    "Operator",
    "Radon",
    "StructuredCS",
    "downsample_kernel",
    "fft2c",
    "ifft2c",
    "operator_dataclass",
    "power_norm",
    "rss",
    "static_field",
]
