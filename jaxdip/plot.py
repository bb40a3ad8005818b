"""Plots of fits: loss and PSNR over steps, and image panels. Files are written atomically."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from jaxdip.io import atomic_path

__all__ = ["plot_history", "plot_images"]


def _figure(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt, plt.subplots(*args, **kwargs)


def _save(plt, fig, path: str | os.PathLike | None) -> None:
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])
        plt.close(fig)


def plot_history(history: dict, path: str | os.PathLike | None = None, marks: dict | None = None):
    """Loss (log scale) and, when present, PSNR over steps; ``marks`` maps a label to a step
    drawn as a vertical line (e.g. a stopping rule's detected step). Returns the figure."""
    has_psnr = "psnr" in history and not np.all(np.isnan(history["psnr"]))
    plt, (fig, axes) = _figure(1, 2 if has_psnr else 1, figsize=(10 if has_psnr else 5, 3.5))
    axes = np.atleast_1d(axes)
    axes[0].semilogy(history["step"], history["loss"], lw=1)
    axes[0].set(xlabel="step", ylabel="training loss")
    if has_psnr:
        axes[1].plot(history["step"], history["psnr"], lw=1, label="PSNR of step output")
        axes[1].set(xlabel="step", ylabel="PSNR (dB)")
    for label, step in (marks or {}).items():
        for ax in axes:
            ax.axvline(step, ls="--", lw=1, color="C3" if "stop" in label else "C2")
        axes[-1].plot([], [], ls="--", label=f"{label} ({step})")
    if has_psnr or marks:
        axes[-1].legend(fontsize=8)
    fig.tight_layout()
    _save(plt, fig, path)
    return fig


def plot_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    path: str | os.PathLike | None = None,
    cmap: str = "gray",
):
    """Show (H, W, C) images side by side (C = 1 in ``cmap``); returns the figure."""
    plt, (fig, axes) = _figure(1, len(images), figsize=(3.2 * len(images), 3.4))
    for ax, img, title in zip(np.atleast_1d(axes), images, titles):
        img = np.asarray(img)
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(np.clip(img, 0, 1) if img.ndim == 3 else img, cmap=cmap, vmin=None)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    _save(plt, fig, path)
    return fig
