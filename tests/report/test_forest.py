"""The scorecard's forest plot: one panel per line with an estimate, laid out without
matplotlib's tight_layout (which gave up with a warning on a full scorecard)."""

from __future__ import annotations

import math
import warnings

from PIL import Image

from introscope.headlines import Headline
from introscope.report.forest import plot_forest


def _line(i: int, estimate: float = 0.5) -> Headline:
    name = f"a long scorecard line name that fills the left margin of the figure, number {i}"
    return Headline(name, estimate, estimate - 0.3, estimate + 0.3, 10, "", step=100 + i)


def test_full_scorecard_plots_without_layout_warnings(tmp_path):
    lines = [_line(i, estimate=0.1 * i - 2) for i in range(40)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tight_layout's "not applied" warning would raise
        path = plot_forest(lines, tmp_path / "scorecard.png")
    assert path is not None
    width, height = Image.open(path).size
    # The figure grows with the number of lines (0.55 inch each) at a fixed width.
    one = plot_forest([_line(0)], tmp_path / "one.png")
    assert one is not None
    w1, h1 = Image.open(one).size
    assert width == w1 and height > 10 * h1


def test_lines_without_estimate_are_left_out(tmp_path):
    assert plot_forest([_line(0, estimate=math.nan)], tmp_path / "none.png") is None
    unavailable = Headline("x", 1.0, 0.0, 2.0, 3, "", step=1, available=False)
    assert plot_forest([unavailable], tmp_path / "none.png") is None
