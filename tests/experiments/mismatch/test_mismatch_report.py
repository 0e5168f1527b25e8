"""The mismatch report section, its figure and its headline rows, on a synthetic run
(ported from tests/test_report_controls.py)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from introscope.experiments.mismatch.analysis import mismatch_table
from introscope.experiments.mismatch.figures import plot_mismatch
from introscope.render.tables import format_table
from introscope.report.document import write_report
from introscope.report.terminal import render_summary
from introscope.store import RunStore, TrialRecord, load_run, stable_hash, write_manifest
from introscope.tables import RunFrame

RUN_ID = "mismatch-run"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WORDS = ["Ocean", "Dust", "Bread", "Lava"]


def record(i: int, condition: dict[str, Any], logits: dict[str, Any]) -> TrialRecord:
    return TrialRecord(
        trial_id=stable_hash({"i": i, "experiment": "mismatch"}),
        run_id=RUN_ID,
        experiment="mismatch",
        cell_id=stable_hash({"experiment": "mismatch", **condition, "rep": None})[:12],
        condition={"rep": i, **condition},
        prompt=f"[mismatch] prompt {i}",
        measure="logits",
        seed=i,
        logits=logits,
    )


def build(run_dir: Path) -> None:
    """Baselines per asked word; the concept vector lifts congruent P(yes) by 0.15 at both
    layers, the random vector does not."""
    rng = np.random.default_rng(0)
    conds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    base = {w: 0.3 + 0.1 * k for k, w in enumerate(WORDS)}
    for w, p in base.items():
        for rep in range(3):
            cond = {"concept": None, "asked": w, "congruent": None, "control": "none", "rep": rep}
            conds.append(({**cond, "layer": None, "strength": None}, {"p_yes": p}))
    for layer in (10, 14):
        for control, lift in (("concept", 0.15), ("random", 0.0)):
            for i in range(12):
                y, x = WORDS[i % 4], WORDS[(i + 1) % 4]
                common = {
                    "concept": y,
                    "layer": layer,
                    "strength": 4.0,
                    "control": control,
                    "rep": i,
                }
                noise = rng.normal(0, 0.02, 2)
                conds.append(
                    (
                        {**common, "asked": y, "congruent": True},
                        {"p_yes": base[y] + 0.05 + lift + noise[0]},
                    )
                )
                conds.append(
                    (
                        {**common, "asked": x, "congruent": False},
                        {"p_yes": base[x] + 0.05 + noise[1]},
                    )
                )
    with RunStore(run_dir) as store:
        store.write_batch([record(i, c, lg) for i, (c, lg) in enumerate(conds)])
    write_manifest(run_dir, {"run_id": RUN_ID, "model": "tiny <model>"})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("mismatch_report")
    build(d)
    return d


@pytest.fixture(scope="module")
def text(run_dir: Path) -> str:
    return write_report(run_dir).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def table(run_dir: Path) -> pd.DataFrame:
    return mismatch_table(RunFrame(load_run(run_dir), run_dir))


def section(text: str, anchor: str) -> str:
    """The HTML from the section's heading to the next h2."""
    start = text.index(f'<h2 id="{anchor}">')
    end = text.find("<h2 ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_mismatch_section(text: str, table: pd.DataFrame) -> None:
    sec = section(text, "mismatch")
    assert "Mismatch control" in sec and "carries information about which concept" in sec
    assert "aware" not in sec.lower()
    assert len(table) == 4
    for cell in format_table(table)["gap_corrected"]:
        assert html.escape(str(cell), quote=True) in sec
    concept = table[table["control"] == "concept"].iloc[0]
    assert concept["gap_corrected"] == pytest.approx(0.15, abs=0.03)
    # paired by concept: n counts the 4 injected concepts (issue 10 defect 5)
    assert re.search(r"\+0\.1\d \[\+0\.\d\d, \+0\.\d\d\] \(n=4 vs 4\)", sec)
    assert "chosen among 2 configurations on 2 concepts" in sec
    assert sec.count('src="data:image/png;base64,') == 1


def test_png_is_valid(text: str, run_dir: Path) -> None:
    data = (run_dir / "plots" / "mismatch.png").read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_only_the_mismatch_section_is_drawn(text: str, run_dir: Path) -> None:
    for anchor in ("localization", "detection", "natural-states", "category-thresholds"):
        assert f'<h2 id="{anchor}">' not in text
    assert not (run_dir / "plots" / "localization.png").exists()


def test_summary_lines_include_mismatch(text: str, run_dir: Path) -> None:
    summary = text[text.index('<h2 id="summary">') : text.index('<p class="note">')]
    assert html.escape("mismatch: congruent - incongruent P(yes) (concept)") in summary
    assert html.escape("mismatch: congruent - incongruent P(yes) (random control)") in summary
    console = Console(record=True, width=250)
    render_summary(run_dir, console)
    assert "mismatch: congruent" in console.export_text()


def test_plot_without_data(tmp_path: Path) -> None:
    assert plot_mismatch(pd.DataFrame(), tmp_path / "m.png") is None
    assert not list(tmp_path.iterdir())
