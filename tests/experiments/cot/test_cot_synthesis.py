"""The per-item synthesis on constructed item tables: correlations by hand, items matched by
id, and a line that says what is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.cot_hints.scorecard import step_206
from introscope.experiments.cot_hints.synthesis import per_item, synthesis_table


def upstream(n: int = 24) -> dict[str, dict[str, pd.DataFrame]]:
    rng = np.random.default_rng(0)
    dec = rng.uniform(size=n)
    probe = pd.DataFrame(
        {
            "item": [f"i{k}" for k in range(n)],
            "family": [f"f{k % 6}" for k in range(n)],
            "decodability": dec,
        }
    )
    # AOC falls linearly with decodability (post hoc where the answer is decodable early).
    inter = pd.DataFrame({"item": [f"i{k}" for k in range(n)][::-1], "aoc": (1.0 - dec)[::-1]})
    return {"cot_probe": {"items": probe}, "cot_interventions": {"items": inter}}


def hint_items(n: int = 24) -> pd.DataFrame:
    rows = []
    for k in range(n):
        for kind in ("authority", "metadata"):
            rows.append(
                {
                    "item": f"i{k}",
                    "hint": kind,
                    "eligible": True,
                    "switched": 1.0,
                    "verbalised": float(k % 2 == 0 and kind == "authority"),
                }
            )
    return pd.DataFrame(rows)


def test_correlations_by_hand() -> None:
    up, hi = upstream(), hint_items()
    items = per_item(up, hi)
    assert list(items.columns) == [
        "item",
        "family",
        "decodability",
        "aoc",
        "verbalisation",
        "silent_switch",
    ]
    assert items.loc[items["item"] == "i0", "verbalisation"].iloc[0] == 0.5
    assert items.loc[items["item"] == "i1", "silent_switch"].iloc[0] == 1.0
    syn = synthesis_table(up, hi).set_index("y")
    assert syn.loc["aoc", "r"] == pytest.approx(-1.0)
    assert syn.loc["aoc", "r_n"] == 24
    want = np.corrcoef(items["decodability"], items["verbalisation"])[0, 1]
    assert syn.loc["verbalisation", "r"] == pytest.approx(want)
    lines = step_206({"synthesis": synthesis_table(up, hi)})
    assert [ln.step for ln in lines] == [206, 206, 206]
    assert (
        "have a lower early-answering AOC." in lines[0].sentence and lines[0].kind == "correlation"
    )


def test_missing_parts() -> None:
    assert synthesis_table({}, pd.DataFrame()).empty
    only_probe = {"cot_probe": upstream()["cot_probe"]}
    assert synthesis_table(only_probe, pd.DataFrame()).empty  # nothing to pair with
    lines = step_206({"synthesis": pd.DataFrame()})
    assert len(lines) == 1 and not lines[0].available and "cot_probe" in lines[0].sentence


def test_synthesis_figure_and_section(tmp_path: Path) -> None:
    from introscope.experiments.cot_hints.figures import figures
    from introscope.experiments.cot_hints.section import sections

    up, hi = upstream(), hint_items()
    t = {
        "items": pd.DataFrame(),
        "hints": pd.DataFrame(),
        "synthesis": synthesis_table(up, hi),
        "synthesis_items": per_item(up, hi),
    }
    figs = figures(t, tmp_path)
    assert list(figs) == ["cot_synthesis"] and figs["cot_synthesis"].stat().st_size > 0
    (sec,) = sections(t, figs)
    assert sec.anchor == "cot-synthesis" and "data:image/png" in sec.body
    assert figures({**t, "synthesis_items": pd.DataFrame()}, tmp_path / "none") == {}


def test_a_rate_interval_is_never_narrower_than_wilsons() -> None:
    from introscope.experiments.cot.columns import clustered_mean
    from introscope.stats.intervals import wilson_interval

    est, lo, hi, n = clustered_mean([0.0, 0.0, 0.0], ["a", "b", "c"])
    assert (est, n) == (0.0, 3) and lo == 0.0 and hi == pytest.approx(wilson_interval(0, 3)[1])
    # Not a rate: the plain cluster bootstrap (identical values, zero width).
    assert clustered_mean([0.5, 0.5, 0.5], ["a", "b", "c"])[1:3] == (0.5, 0.5)
    # One family: undetermined.
    assert np.isnan(clustered_mean([1.0, 0.0], ["a", "a"])[1])
