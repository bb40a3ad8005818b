"""Plot of a seed ensemble's uncertainty: mean, std and (optionally) error maps side by side.

The std map is the pixelwise spread of the members, sigma(x) = sqrt(mean_k (x_k - mean)^2); the
error map is |mean - x_true|. A well-calibrated ensemble (deep ensembles: Lakshminarayanan et al.,
NeurIPS 2017) shows a large std where the error is large. Colour std and error are reduced to one
map by averaging over channels.

Example:
    >>> ens = fit_ensemble(keys, model, A, y, steps=500, x_true=x)  # doctest: +SKIP
    >>> plot_uncertainty(ens.mean, ens.std, np.abs(ens.mean - x), path="unc.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np

from jaxdip.io import atomic_path

__all__ = ["plot_uncertainty"]


def _as_image(name: str, value, shape: tuple[int, ...] | None) -> np.ndarray:
    arr = np.asarray(value, np.float32)
    if arr.ndim != 3 or arr.shape[-1] < 1:
        raise ValueError(f"{name}: expected an (H, W, C) array, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} like mean, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return arr


def plot_uncertainty(mean, std, error=None, path: str | os.PathLike | None = None):
    """Show the ensemble mean, its std map and, when given, the error map, each with a colourbar.

    Args:
      mean: (H, W, C) ensemble mean in [0, 1] (shown as an image; C = 1 in grey).
      std: (H, W, C) pixelwise std over members (shown averaged over channels).
      error: optional (H, W, C) error, e.g. ``abs(mean - x_true)`` (shown as the channel mean of its
        absolute value, on the same colour scale as ``std`` so that the two are comparable).
      path: optional file to write (format from its suffix, e.g. ``.png``), written atomically.

    Returns the matplotlib figure.
    """
    mean = _as_image("mean", mean, None)
    std = _as_image("std", std, mean.shape)
    if np.any(std < 0):
        raise ValueError("std: expected non-negative values, got a negative entry")
    maps = [("ensemble std", std.mean(axis=-1))]
    if error is not None:
        error = _as_image("error", error, mean.shape)
        maps.append(("|error|", np.abs(error).mean(axis=-1)))
    vmax = max(float(m.max()) for _, m in maps) or 1.0

    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    fig, axes = plt.subplots(1, 1 + len(maps), figsize=(3.6 * (1 + len(maps)), 3.4))
    shown = np.clip(mean[..., 0] if mean.shape[-1] == 1 else mean, 0, 1)
    im = axes[0].imshow(shown, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("ensemble mean", fontsize=9)
    if shown.ndim == 2:  # a colourbar means nothing for an RGB image
        fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.04)
    for ax, (title, m) in zip(axes[1:], maps):
        im = ax.imshow(m, cmap="magma", vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])
        plt.close(fig)
    return fig
