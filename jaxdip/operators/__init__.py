"""Forward operators as pytrees (see :mod:`jaxdip.operators.base`)."""

from jaxdip.operators.base import (
    Composed,
    LinearOperator,
    Operator,
    operator_dataclass,
    power_norm,
    static_field,
)
from jaxdip.operators.identity import Identity

__all__ = [
    "Composed",
    "Identity",
    "LinearOperator",
    "Operator",
    "operator_dataclass",
    "power_norm",
    "static_field",
]
