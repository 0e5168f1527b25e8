"""The localization report section, its figure, its headline rows and escaping of model
text, on a synthetic run (ported from tests/test_report_controls.py)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

from introscope.experiments.localization.analysis import localization_table
from introscope.experiments.localization.figures import plot_localization
from introscope.render.tables import format_table
from introscope.report.document import write_report
from introscope.report.terminal import render_summary
from introscope.store import RunStore, TrialRecord, load_run, stable_hash, write_manifest
from introscope.tables import RunFrame

RUN_ID = "localization-run"
EVIL = 'Sentence <script>alert("x")</script> number 3 & <b>bold</b>'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def record(i: int, condition: dict[str, Any], logits: dict[str, Any], **kw: Any) -> TrialRecord:
    return TrialRecord(
        trial_id=stable_hash({"i": i, "experiment": "localization"}),
        run_id=RUN_ID,
        experiment="localization",
        cell_id=stable_hash({"experiment": "localization", **condition, "rep": None})[:12],
        condition={"rep": i, **condition},
        prompt=f"[localization] prompt {i}",
        measure="logits",
        seed=i,
        logits=logits,
        **kw,
    )


def build(run_dir: Path) -> None:
    """20 stimuli. Under injection at layer 10 the localization question finds the target
    16 times and the abstractness question 4 times; at layer 14 half as often. Without
    injection both pick the wrong sentence."""
    records = []
    for i in range(20):
        target = i % 5 + 1
        wrong = target % 5 + 1
        for question, n_right in (("injected", 16), ("abstract", 4)):
            base = {"question": question, "stimulus_id": i, "target": target}
            for layer in (10, 14):
                right = i < (n_right if layer == 10 else n_right // 2)
                chosen = target if right else wrong
                probs = [0.05] * 5
                probs[chosen - 1] = 0.8
                records.append(
                    record(
                        len(records),
                        {**base, "concept": "Ocean", "layer": layer, "strength": 8.0},
                        {"chosen": chosen, "target": target, "p_target": probs[target - 1]},
                        control="concept",
                        response=EVIL
                        if (i == 0 and layer == 10 and question == "injected")
                        else None,
                    )
                )
            records.append(
                record(
                    len(records),
                    {**base, "concept": None, "layer": None, "strength": None, "control": "none"},
                    {"chosen": wrong, "target": target, "p_target": 0.05},
                )
            )
    with RunStore(run_dir) as store:
        store.write_batch(records)
    write_manifest(run_dir, {"run_id": RUN_ID, "model": "tiny <model>"})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("localization_report")
    build(d)
    return d


@pytest.fixture(scope="module")
def text(run_dir: Path) -> str:
    return write_report(run_dir).read_text(encoding="utf-8")


def section(text: str, anchor: str) -> str:
    """The HTML from the section's heading to the next h2."""
    start = text.index(f'<h2 id="{anchor}">')
    end = text.find("<h2 ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_localization_section(text: str, run_dir: Path) -> None:
    sec = section(text, "localization")
    assert "Localization vs abstractness" in sec
    table = localization_table(RunFrame(load_run(run_dir), run_dir))
    for cell in format_table(table)["accuracy"]:
        assert html.escape(str(cell), quote=True) in sec
    assert "0.80 [" in sec and "(n=20)" in sec
    assert sec.count('src="data:image/png;base64,') == 1
    assert "aware" not in sec.lower()


def test_png_is_valid(text: str, run_dir: Path) -> None:
    data = (run_dir / "plots" / "localization.png").read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert not (run_dir / "plots" / "mismatch.png").exists()
    assert '<h2 id="mismatch">' not in text


def test_escaping(text: str) -> None:
    assert "<script" not in text.lower()
    assert html.escape(EVIL, quote=True) in text
    assert "<b>bold</b>" not in text
    assert "tiny &lt;model&gt;" in text


def test_summary_lines_include_localization(text: str, run_dir: Path) -> None:
    summary = text[text.index('<h2 id="summary">') : text.index('<p class="note">')]
    for name in (
        "localization: accuracy vs chance",
        "localization - abstractness",
        "localization: no-injection accuracy",
    ):
        assert html.escape(name) in summary
    console = Console(record=True, width=250)
    render_summary(run_dir, console)
    assert "localization: accuracy vs chance" in console.export_text()


def test_plot_without_data(tmp_path: Path) -> None:
    assert plot_localization(pd.DataFrame(), tmp_path / "l.png") is None
    assert not list(tmp_path.iterdir())
