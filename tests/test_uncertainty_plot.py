import numpy as np
import pytest

from jaxdip.uncertainty_plot import plot_uncertainty


def _maps(c):
    rng = np.random.default_rng(0)
    mean = rng.uniform(0, 1, (16, 12, c)).astype(np.float32)
    std = rng.uniform(0, 0.1, (16, 12, c)).astype(np.float32)
    error = rng.normal(0, 0.1, (16, 12, c)).astype(np.float32)
    return mean, std, error


@pytest.mark.parametrize("c", [1, 3])
def test_writes_png(tmp_path, c):
    mean, std, error = _maps(c)
    path = tmp_path / "sub" / "unc.png"
    fig = plot_uncertainty(mean, std, error, path=path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    # mean, std, error panels (+ their colourbars); no temporary file left behind
    assert len([ax for ax in fig.axes if ax.get_images()]) == 3
    assert [p.name for p in path.parent.iterdir()] == ["unc.png"]


def test_without_error_and_scales():
    mean, std, error = _maps(3)
    fig = plot_uncertainty(mean, std)
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 2
    shown = panels[1].get_images()[0]
    np.testing.assert_allclose(shown.get_array(), std.mean(-1), rtol=1e-6)
    # std and error share a colour scale so that they can be compared by eye
    fig = plot_uncertainty(mean, std, error)
    panels = [ax for ax in fig.axes if ax.get_images()]
    lims = [ax.get_images()[0].get_clim() for ax in panels[1:]]
    assert lims[0] == lims[1]
    assert lims[0][1] == pytest.approx(max(std.mean(-1).max(), np.abs(error).mean(-1).max()))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"mean": np.zeros((8, 8))}, "mean"),
        ({"std": np.zeros((8, 9, 3))}, "std"),
        ({"std": -np.ones((8, 8, 3))}, "std"),
        ({"error": np.zeros((8, 8, 1))}, "error"),
        ({"std": np.full((8, 8, 3), np.nan)}, "std"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, name):
    args = {"mean": np.zeros((8, 8, 3)), "std": np.zeros((8, 8, 3)), "error": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{name}:"):
        plot_uncertainty(**args)
