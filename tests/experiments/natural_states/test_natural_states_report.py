"""The natural-states report section, summary rows and scorecard lines of a synthetic run
written to a run directory."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from introscope.experiments import EXPERIMENTS, REGISTRY
from introscope.experiments.natural_states import EXPERIMENT
from introscope.render.tables import format_table
from introscope.report.document import write_report
from introscope.report.results import load_results
from introscope.report.scorecard import scorecard
from introscope.report.terminal import render_summary
from introscope.spec import load_spec
from introscope.store import RunStore, TrialRecord, stable_hash, write_manifest

KIND = "natural_states"


def natural_records(rng: np.random.Generator) -> list[TrialRecord]:
    effect = {"repeated": 2.0, "single": 1.0, "incidental": 0.0}
    records = []
    for ci in range(8):
        for template, te in effect.items():
            for rep in range(3):
                state = rng.normal(0, 0.05)
                dist = float(rng.normal(0.02, 0.005))
                logprob = -8.0 + 1.5 * te + 20.0 * state + rng.normal(0, 0.3)
                condition: dict[str, Any] = {
                    "concept": f"W{ci}",
                    "template": template,
                    "control": "none",
                    "layer": None,
                    "strength": None,
                    "rep": rep,
                }
                records.append(
                    TrialRecord(
                        trial_id=stable_hash({"i": len(records), "experiment": KIND}),
                        run_id="ns-run",
                        experiment=KIND,
                        cell_id=stable_hash({**condition, "rep": None})[:12],
                        condition=condition,
                        prompt=f"prompt {len(records)}",
                        measure="logits",
                        seed=len(records),
                        logits={
                            "concept_logprob": logprob,
                            "rank": 1 if logprob > -6.5 else 2,
                            "n_candidates": 10,
                            "cos_by_layer": {"10": 0.05 * te + state + dist},
                            "distractor_cos_by_layer": {"10": dist},
                        },
                    )
                )
    return records


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("natural_states_report")
    with RunStore(d) as store:
        store.write_batch(natural_records(np.random.default_rng(0)))
    write_manifest(d, {"run_id": "ns-run", "model": "tiny <model>"})
    return d


@pytest.fixture(scope="module")
def text(run_dir: Path) -> str:
    return write_report(run_dir).read_text(encoding="utf-8")


def section(text: str, anchor: str) -> str:
    """The HTML from the section's heading to the next h2."""
    start = text.index(f'<h2 id="{anchor}">')
    end = text.find("<h2 ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_registered_after_detection() -> None:
    assert EXPERIMENTS[KIND] is EXPERIMENT and load_spec(KIND).experiment == KIND
    kinds = [e.kind for e in REGISTRY]
    assert kinds.index("detection") < kinds.index(KIND)


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_natural_states_section(text: str, run_dir: Path) -> None:
    sec = section(text, "natural-states")
    assert "Natural states" in sec and "beyond what the text itself predicts" in sec
    t = load_results(run_dir).tables[KIND]
    table = t["natural_states"]
    tmpl = table[table["row_type"] == "template"].reset_index(drop=True)
    cells = format_table(tmpl.drop(columns=["row_type"]).dropna(axis=1, how="all"))
    for cell in cells["identified"]:
        assert html.escape(cell, quote=True) in sec
    assert "cos_specific" in sec and "template+concept" in sec and "(n=72)" in sec
    (pooled,) = format_table(t["projection_check"])["cos_specific"]
    assert pooled.endswith("(n=72)") and html.escape(pooled, quote=True) in sec
    assert "<img" not in sec  # tables only
    assert "aware" not in sec.lower()


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_summary_and_scorecard(text: str, run_dir: Path) -> None:
    summary = text[text.index('<h2 id="summary">') : text.index('<p class="note">')]
    assert html.escape("natural states: report ~ projection | template (log-prob)") in summary
    lines = [ln for ln in scorecard(run_dir) if ln.step == 8]
    assert len(lines) == 4 and all(ln.available for ln in lines)
    assert lines[0].name == "natural states: report ~ projection | template (log-prob)"
    assert lines[0].ci_low > 0
    from rich.console import Console

    console = Console(record=True, width=250)
    render_summary(run_dir, console)
    assert "natural states: report ~ projection" in console.export_text()


def test_no_section_without_rows(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_batch(
            [
                TrialRecord(
                    trial_id="x",
                    run_id="other",
                    experiment="detection",
                    cell_id="c",
                    condition={"concept": None, "control": "none", "layer": None},
                    prompt="p",
                    measure="logits",
                    seed=0,
                    logits={"p_yes": 0.5},
                )
            ]
        )
    write_manifest(tmp_path, {"run_id": "other"})
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert '<h2 id="natural-states">' not in page
    (step8,) = [ln for ln in scorecard(tmp_path) if ln.step == 8]
    assert not step8.available and step8.sentence.startswith("Not run")
