"""The model's parameters packed into one flat vector per dtype, the form a fit optimises.

A DIP generator has a hundred or more parameter arrays (the default skip net: 112). An optax
optimiser applied to that tree runs each of its element-wise formulas once per array, and XLA:CPU
compiles every one of those small loops as its own kernel: in the compiled loop of a skip-net fit,
Adam, the "active step" selects and the last-good copy were 478 of its 992 loop kernels. Packed
into one vector per dtype, they are a handful of kernels over the same numbers, and the fit's loop
at 256x256 compiles in 8.9-9.0 instead of 14.5-15.6 s (``bench/README.md``, "Packed
parameters"). The update is the same for any element-wise optimiser (Adam, AdamW, SGD,
RMSProp, ...) and for global-norm clipping; one that treats each array as a layer (LAMB, LARS,
Adafactor's factored moments) sees a single layer per dtype, so :func:`jaxdip.fit.init` takes
``pack_params=False`` for those (:meth:`ParamLayout.of` with ``packed=False`` keeps the tree).

Example:
    >>> import jax.numpy as jnp
    >>> from jaxdip.param_layout import ParamLayout
    >>> params = {"bias": jnp.zeros(3), "kernel": jnp.ones((2, 3))}
    >>> layout = ParamLayout.of(params)
    >>> packed = layout.pack(params)
    >>> packed["float32"].shape
    (9,)
    >>> layout.unpack(packed)["kernel"].shape
    (2, 3)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ParamLayout"]


@dataclasses.dataclass(frozen=True)
class ParamLayout:
    """Where each parameter array sits in the packed vectors (hashable: a static pytree field).

    Attributes:
      treedef: the parameter tree's structure.
      shapes, dtypes: per leaf, in ``jax.tree.leaves`` order (dtypes by name).
      packed: False keeps the tree as it is (``pack`` and ``unpack`` return their argument).
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]
    packed: bool = True

    @classmethod
    def of(cls, params: Any, packed: bool = True) -> "ParamLayout":
        """The layout of ``params`` (arrays or ``jax.ShapeDtypeStruct`` leaves)."""
        leaves, treedef = jax.tree.flatten(params)
        shapes = tuple(tuple(int(d) for d in np.shape(a)) for a in leaves)
        return cls(treedef, shapes, tuple(jnp.dtype(a.dtype).name for a in leaves), bool(packed))

    @property
    def groups(self) -> tuple[str, ...]:
        """The dtypes present, in order of first appearance: the keys of a packed dict."""
        return tuple(dict.fromkeys(self.dtypes))

    def pack(self, params: Any) -> Any:
        """``{dtype: concatenate([ravel(leaf) for the leaves of that dtype])}`` (the tree if not
        packed). Leading axes beyond a leaf's own shape (a vmapped batch) are kept in front."""
        if not self.packed:
            return params
        leaves = self._leaves(params)
        return {
            g: self._concat([a for a, d in zip(leaves, self.dtypes) if d == g], g)
            for g in self.groups
        }

    def unpack(self, packed: Any) -> Any:
        """The parameter tree from :meth:`pack`'s output: the last axis split into the leaves,
        reshaped (leading batch axes kept in front). One split per dtype, whose transpose (the
        gradient) is one concatenation, not a zero-padded array per leaf."""
        if not self.packed:
            return packed
        if not isinstance(packed, dict) or set(packed) != set(self.groups):
            raise ValueError(
                f"packed: expected a dict with keys {self.groups}, got "
                f"{sorted(packed) if isinstance(packed, dict) else type(packed).__name__}"
            )
        pieces = {}
        for g in self.groups:
            sizes = [math.prod(s) for s, d in zip(self.shapes, self.dtypes) if d == g]
            pieces[g] = iter(jnp.split(packed[g], np.cumsum(sizes)[:-1].tolist(), axis=-1))
        leaves = []
        for shape, dtype in zip(self.shapes, self.dtypes):
            piece = next(pieces[dtype])
            leaves.append(piece.reshape(piece.shape[:-1] + shape))
        return jax.tree.unflatten(self.treedef, leaves)

    def pack_flags(self, flags: Sequence[bool]) -> Any:
        """A float mask with the layout's structure, 1 where the leaf's flag is True, else 0: one
        value per entry when packed, one scalar per leaf otherwise."""
        if len(flags) != len(self.shapes):
            raise ValueError(f"flags: expected {len(self.shapes)} flags, got {len(flags)}")
        if not self.packed:
            scalars = [jnp.asarray(float(f), d) for f, d in zip(flags, self.dtypes)]
            return jax.tree.unflatten(self.treedef, scalars)
        return {
            g: jnp.asarray(
                np.concatenate(
                    [
                        np.full(math.prod(s), float(f), dtype=np.dtype(d))
                        for f, s, d in zip(flags, self.shapes, self.dtypes)
                        if d == g
                    ]
                )
            )
            for g in self.groups
        }

    def _leaves(self, params: Any) -> list:
        leaves, treedef = jax.tree.flatten(params)
        if treedef != self.treedef:
            raise ValueError(f"params: expected the tree structure {self.treedef}, got {treedef}")
        return leaves

    def _concat(self, leaves: list, dtype: str) -> jax.Array:
        shapes = [s for s, d in zip(self.shapes, self.dtypes) if d == dtype]
        batch = tuple(leaves[0].shape[: leaves[0].ndim - len(shapes[0])])
        flat = [jnp.reshape(a, batch + (math.prod(s),)) for a, s in zip(leaves, shapes)]
        return flat[0] if len(flat) == 1 else jnp.concatenate(flat, axis=-1)
