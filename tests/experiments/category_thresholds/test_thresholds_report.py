"""The category-thresholds report section (its figure drawn once, here), summary rows and
scorecard lines of a synthetic run written to a run directory."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from introscope.experiments import EXPERIMENTS, REGISTRY
from introscope.experiments.category_thresholds import EXPERIMENT
from introscope.report.document import write_report
from introscope.report.scorecard import scorecard
from introscope.report.terminal import render_summary
from introscope.spec import load_spec
from introscope.store import RunStore, TrialRecord, stable_hash, write_manifest

KIND = "category_thresholds"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def threshold_records() -> list[TrialRecord]:
    rows: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"concept": None, "category": None, "control": "none"}, {"p_yes": 0.2})
    ]
    for i in range(6):
        jitter = 0.01 if i % 2 else -0.01
        for concept, cat, diffs in (
            (f"a{i}", "abstract_nouns", [0.05 + jitter, 0.3 + jitter, 0.5 + jitter]),
            (f"c{i}", "countries", [jitter, -jitter, jitter]),
        ):
            rows.append(
                (
                    {"concept": concept, "category": cat, "layer": None, "control": "measure"},
                    {"word_logprob": -5.0 - i, "word_n_tokens": 1, "cosine": {"10": 0.1 * i}},
                )
            )
            for s, d in zip((1.0, 4.0, 8.0), diffs, strict=True):
                cond = {"concept": concept, "category": cat, "layer": 10, "strength": s}
                rows.append(({**cond, "control": "random"}, {"p_yes": 0.2}))
                rows.append(({**cond, "control": "concept"}, {"p_yes": 0.2 + d}))
    return [
        TrialRecord(
            trial_id=stable_hash({"i": i, "experiment": KIND}),
            run_id="thr-run",
            experiment=KIND,
            cell_id=stable_hash(cond)[:12],
            condition=cond,
            prompt=f"prompt {i}",
            measure="logits",
            seed=i,
            logits=logits,
        )
        for i, (cond, logits) in enumerate(rows)
    ]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("thresholds_report")
    with RunStore(d) as store:
        store.write_batch(threshold_records())
    write_manifest(d, {"run_id": "thr-run", "model": "tiny <model>"})
    return d


@pytest.fixture(scope="module")
def text(run_dir: Path) -> str:
    return write_report(run_dir).read_text(encoding="utf-8")


def section(text: str, anchor: str) -> str:
    start = text.index(f'<h2 id="{anchor}">')
    end = text.find("<h2 ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_registered_last() -> None:
    assert EXPERIMENTS[KIND] is EXPERIMENT and load_spec(KIND).experiment == KIND
    # The last slice of the injected-thoughts argument (other suites follow it).
    injected = [e for e in REGISTRY if e.scorecard_part == "injected thoughts"]
    assert injected[-1] is EXPERIMENT


def test_threshold_section_draws_its_figure_once(text: str, run_dir: Path) -> None:
    sec = section(text, "category-thresholds")
    assert "Category thresholds" in sec and "abstract_nouns" in sec
    assert "Dose-response per category and layer" in sec and "ec50" in sec
    assert "0.30 [" in sec and "mean_effect" in sec and "category[countries]" in sec
    assert "intercept" not in sec  # intercepts and per-strength models are left out
    assert text.count('alt="category thresholds"') == 1
    assert sec.count('src="data:image/png;base64,') == 1
    data = (run_dir / "plots" / "category_thresholds.png").read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_summary_and_scorecard(text: str, run_dir: Path) -> None:
    summary = text[text.index('<h2 id="summary">') : text.index('<p class="note">')]
    assert html.escape("ec50/abstract_nouns/L10") in summary
    lines = [ln for ln in scorecard(run_dir) if ln.step == 9]
    # No detection trials, so no selected layer: the grid's first (only) layer, said so.
    assert [ln.name for ln in lines] == ["ec50/abstract_nouns/L10", "ec50/countries/L10"]
    assert lines[0].ci_low <= lines[0].estimate <= lines[0].ci_high and lines[0].n == 6
    assert all(ln.config.startswith("layer 10 (no layer was") for ln in lines)
    # Countries have no effect: their EC50 is not available (no number, no verdict).
    assert lines[0].available and not lines[1].available
    assert lines[1].sentence.startswith("Not available: ")
    from rich.console import Console

    console = Console(record=True, width=250)
    render_summary(run_dir, console)
    assert "ec50/abstract_nouns/L10" in console.export_text()
