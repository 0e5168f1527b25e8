"""The report's sections for the newer controls (mismatch, localization, natural states,
category thresholds), their figures and their headline rows, on a synthetic run."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope import analysis_controls as A
from introscope.plots_controls import plot_localization, plot_mismatch
from introscope.report import format_table, render_summary, write_report
from introscope.store import RunStore, TrialRecord, load_run, stable_hash, write_manifest

RUN_ID = "controls-run"
EVIL = 'Sentence <script>alert("x")</script> number 3 & <b>bold</b>'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WORDS = ["Ocean", "Dust", "Bread", "Lava"]


class Builder:
    def __init__(self) -> None:
        self.records: list[TrialRecord] = []

    def add(
        self, experiment: str, condition: dict[str, Any], logits: dict[str, Any], **kw: Any
    ) -> None:
        i = len(self.records)
        self.records.append(
            TrialRecord(
                trial_id=stable_hash({"i": i, "experiment": experiment}),
                run_id=RUN_ID,
                experiment=experiment,
                cell_id=stable_hash({"experiment": experiment, **condition, "rep": None})[:12],
                condition={"rep": i, **condition},
                prompt=f"[{experiment}] prompt {i}",
                measure="logits",
                seed=i,
                logits=logits,
                **kw,
            )
        )


def add_mismatch(b: Builder, rng: np.random.Generator) -> None:
    base = {w: 0.3 + 0.1 * k for k, w in enumerate(WORDS)}
    for w, p in base.items():
        for rep in range(3):
            cond = {"concept": None, "asked": w, "congruent": None, "control": "none", "rep": rep}
            b.add("mismatch", {**cond, "layer": None, "strength": None}, {"p_yes": p})
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
                b.add(
                    "mismatch",
                    {**common, "asked": y, "congruent": True},
                    {"p_yes": base[y] + 0.05 + lift + noise[0]},
                )
                b.add(
                    "mismatch",
                    {**common, "asked": x, "congruent": False},
                    {"p_yes": base[x] + 0.05 + noise[1]},
                )


def add_localization(b: Builder) -> None:
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
                b.add(
                    "localization",
                    {**base, "concept": "Ocean", "layer": layer, "strength": 8.0},
                    {"chosen": chosen, "target": target, "p_target": probs[target - 1]},
                    control="concept",
                    response=EVIL if (i == 0 and layer == 10 and question == "injected") else None,
                )
            b.add(
                "localization",
                {**base, "concept": None, "layer": None, "strength": None, "control": "none"},
                {"chosen": wrong, "target": target, "p_target": 0.05},
            )


def add_natural_states(b: Builder, rng: np.random.Generator) -> None:
    effect = {"repeated": 2.0, "single": 1.0, "incidental": 0.0}
    for ci in range(8):
        for template, te in effect.items():
            for rep in range(3):
                state = rng.normal(0, 0.05)
                dist = float(rng.normal(0.02, 0.005))
                logprob = -8.0 + 1.5 * te + 20.0 * state + rng.normal(0, 0.3)
                b.add(
                    "natural_states",
                    {
                        "concept": f"W{ci}",
                        "template": template,
                        "control": "none",
                        "layer": None,
                        "strength": None,
                        "rep": rep,
                    },
                    {
                        "concept_logprob": logprob,
                        "rank": 1 if logprob > -6.5 else 2,
                        "n_candidates": 10,
                        "cos_by_layer": {"10": 0.05 * te + state + dist},
                        "distractor_cos_by_layer": {"10": dist},
                    },
                )


def add_thresholds(b: Builder) -> None:
    kind = "category_thresholds"
    b.add(kind, {"concept": None, "category": None, "control": "none"}, {"p_yes": 0.2})
    for i in range(6):
        jitter = 0.01 if i % 2 else -0.01
        for concept, cat, diffs in (
            (f"a{i}", "abstract_nouns", [jitter, 0.3 + jitter, 0.5 + jitter]),
            (f"c{i}", "countries", [jitter, -jitter, jitter]),
        ):
            b.add(
                kind,
                {"concept": concept, "category": cat, "layer": None, "control": "measure"},
                {"word_logprob": -5.0 - i, "word_n_tokens": 1, "cosine": {"10": 0.1 * i}},
            )
            for s, d in zip((1.0, 4.0, 8.0), diffs, strict=True):
                cond = {"concept": concept, "category": cat, "layer": 10, "strength": s}
                b.add(kind, {**cond, "control": "random"}, {"p_yes": 0.2})
                b.add(kind, {**cond, "control": "concept"}, {"p_yes": 0.2 + d})


def build(run_dir: Path, parts: tuple[str, ...]) -> None:
    rng = np.random.default_rng(0)
    b = Builder()
    if "mismatch" in parts:
        add_mismatch(b, rng)
    if "localization" in parts:
        add_localization(b)
    if "natural_states" in parts:
        add_natural_states(b, rng)
    if "thresholds" in parts:
        add_thresholds(b)
    with RunStore(run_dir) as store:
        store.write_batch(b.records)
    write_manifest(run_dir, {"run_id": RUN_ID, "model": "tiny <model>"})


ALL = ("mismatch", "localization", "natural_states", "thresholds")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("controls")
    build(d, ALL)
    return d


@pytest.fixture(scope="module")
def df(run_dir: Path) -> pd.DataFrame:
    return load_run(run_dir)


@pytest.fixture(scope="module")
def text(run_dir: Path) -> str:
    return write_report(run_dir).read_text(encoding="utf-8")


def section(text: str, anchor: str) -> str:
    """The HTML from the section's heading to the next h2."""
    start = text.index(f'<h2 id="{anchor}">')
    end = text.find("<h2 ", start + 1)
    return text[start : end if end > 0 else len(text)]


def cells(table: pd.DataFrame, col: str) -> list[str]:
    return [html.escape(str(v), quote=True) for v in format_table(table)[col]]


def test_mismatch_section(text: str, df: pd.DataFrame) -> None:
    sec = section(text, "mismatch")
    assert "Mismatch control" in sec and "carries information about which concept" in sec
    assert "aware" not in sec.lower()
    table = A.mismatch_table(df)
    assert len(table) == 4
    for cell in cells(table, "gap_corrected"):
        assert cell in sec
    concept = table[table["control"] == "concept"].iloc[0]
    assert concept["gap_corrected"] == pytest.approx(0.15, abs=0.03)
    assert re.search(r"\+0\.1\d \[\+0\.\d\d, \+0\.\d\d\] \(n=12 vs 12\)", sec)
    assert sec.count('src="data:image/png;base64,') == 1


def test_localization_section(text: str, df: pd.DataFrame) -> None:
    sec = section(text, "localization")
    assert "Localization vs abstractness" in sec
    table = A.localization_table(df)
    for cell in cells(table, "accuracy"):
        assert cell in sec
    assert "0.80 [" in sec and "(n=20)" in sec
    assert sec.count('src="data:image/png;base64,') == 1


def test_natural_states_section(text: str, df: pd.DataFrame) -> None:
    sec = section(text, "natural-states")
    assert "Natural states" in sec and "beyond what the text itself predicts" in sec
    table = A.natural_states_table(df)
    tmpl = table[table["row_type"] == "template"].reset_index(drop=True)
    for cell in cells(tmpl, "identified"):
        assert cell in sec
    assert "cos_specific" in sec and "template+concept" in sec and "(n=72)" in sec
    assert "<img" not in sec  # tables only


def test_threshold_section_and_single_figure(text: str, run_dir: Path) -> None:
    sec = section(text, "category-thresholds")
    assert "Category thresholds" in sec and "abstract_nouns" in sec
    assert "0.30 [" in sec and "mean_effect" in sec
    # The scorecard figures section draws the threshold figure; it is not drawn twice.
    assert text.count('alt="scorecard category thresholds"') == 1
    assert "<img" not in sec and 'href="#scorecard-figures"' in sec
    assert not (run_dir / "plots" / "category_thresholds.png").exists()


def test_pngs_are_valid(text: str, run_dir: Path) -> None:
    for name in ("mismatch", "localization"):
        data = (run_dir / "plots" / f"{name}.png").read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_escaping(text: str) -> None:
    assert "<script" not in text.lower()
    assert html.escape(EVIL, quote=True) in text
    assert "<b>bold</b>" not in text
    assert "tiny &lt;model&gt;" in text


def test_summary_lines_include_controls(text: str, run_dir: Path) -> None:
    summary = text[text.index('<h2 id="summary">') : text.index('<p class="note">')]
    for name in (
        "mismatch: congruent - incongruent P(yes) (concept)",
        "localization: accuracy vs chance",
        "natural states: report ~ projection | template (log-prob)",
        "threshold/abstract_nouns/L10",
    ):
        assert html.escape(name) in summary
    from rich.console import Console

    console = Console(record=True, width=250)
    render_summary(run_dir, console)
    out = console.export_text()
    assert "mismatch: congruent" in out and "localization: accuracy vs chance" in out
    assert "threshold/abstract_nouns/L10" in out


def test_sections_only_with_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only mismatch rows, and the thresholds module unavailable: no other control section,
    # no failure.
    monkeypatch.setitem(sys.modules, "introscope.analysis_thresholds", None)
    build(tmp_path, ("mismatch",))
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert '<h2 id="mismatch">' in page
    for anchor in ("localization", "natural-states", "category-thresholds"):
        assert f'<h2 id="{anchor}">' not in page
    assert not (tmp_path / "plots" / "localization.png").exists()


def test_plots_without_data(tmp_path: Path) -> None:
    assert plot_mismatch(pd.DataFrame(), tmp_path / "m.png") is None
    assert plot_localization(pd.DataFrame(), tmp_path / "l.png") is None
    assert not list(tmp_path.iterdir())
