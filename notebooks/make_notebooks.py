"""Write the notebooks from their cell sources (run: python notebooks/make_notebooks.py).

Keeping notebook sources here makes them reviewable as code; the .ipynb files are committed
unexecuted and run in CI by nbmake with JAXDIP_FAST=1 (small images, few steps).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent
REPO = "jaxdip/jaxdip"


def badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


INSTALL = """\
# Install jaxdip (on Colab; a no-op where it is already installed)
import importlib.util, subprocess, sys
if importlib.util.find_spec("jaxdip") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/jaxdip/jaxdip"], check=True)"""

FAST = """\
import os
FAST = os.environ.get("JAXDIP_FAST") == "1"  # CI runs the notebooks small and short"""

NOTEBOOKS = {
    "01_quickstart.ipynb": [
        ("md", "# jaxdip quickstart: denoising and inpainting with a Deep Image Prior\n\n"
               + badge("01_quickstart.ipynb")
               + "\n\nA randomly initialised Skip network is fitted to one degraded image; the "
                 "network's structure, not training data, is the prior. We watch PSNR against the "
                 "ground truth over the steps (we would not have it on real data: see the early "
                 "stopping notebook)."),
        ("code", INSTALL),
        ("code", FAST + """
import jax, numpy as np, optax
import matplotlib.pyplot as plt
from jaxdip import fit, metrics, plot
from jaxdip.tasks import make_problem, make_model

SIZE = 32 if FAST else 128
STEPS = 30 if FAST else 1500
WIDTH = 8 if FAST else 64
SCALES = 2 if FAST else 5"""),
        ("md", "## Denoising (Gaussian noise, sigma = 25/255)\n"
               "Reference settings (Ulyanov et al.): Adam lr 0.01, fresh input jitter "
               "sigma_p = 1/30 each step, output averaging (EMA 0.99)."),
        ("code", """\
key = jax.random.key(0)
problem = make_problem("denoise", key, size=SIZE)
model = make_model("skip", problem.out_channels, width=WIDTH, scales=SCALES)
result = fit.fit(jax.random.key(1), model, problem.operator, problem.y, steps=STEPS,
                 optimizer=optax.adam(0.01), x_true=problem.x_true, progress=False,
                 **problem.fit_options)
print(f"noisy {metrics.psnr(problem.y, problem.x_true):.2f} dB -> DIP (EMA) "
      f"{metrics.psnr(result.x_ema, problem.x_true):.2f} dB, best step {result.best_psnr:.2f} dB")
plot.plot_images([problem.x_true, problem.degraded, result.x_ema],
                 ["ground truth", "noisy", "DIP"])
plot.plot_history(result.history);"""),
        ("md", "## Inpainting (half of the pixels missing)"),
        ("code", """\
problem = make_problem("inpaint", jax.random.key(2), image="camera", size=SIZE)
model = make_model("skip", problem.out_channels, width=WIDTH, scales=SCALES)
result = fit.fit(jax.random.key(3), model, problem.operator, problem.y, steps=STEPS,
                 x_true=problem.x_true, progress=False, **problem.fit_options)
print(f"DIP inpainting {metrics.psnr(result.x_ema, problem.x_true):.2f} dB")
plot.plot_images([problem.x_true, problem.degraded, result.x_ema],
                 ["ground truth", "50% of pixels", "DIP"])
plot.plot_history(result.history);"""),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.cells = [
            nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
            for kind, src in cells
        ]
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    main()
