"""Intentional-control tables, headline, figures and report section from synthetic trials
with known cosines."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from introscope.experiments.intentional_control import EXPERIMENT, analysis, figures
from introscope.report.document import write_report
from introscope.report.results import headlines, load_results
from introscope.stats import mean_difference_ci, paired_mean_ci
from introscope.store import RunStore, TrialRecord, load_run, stable_hash, write_manifest
from introscope.tables import RunFrame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ic_record(
    i: int, instruction: str, readout: dict[str, Any], word: str = "bread"
) -> TrialRecord:
    condition = {"sentence_id": 1, "word": word, "instruction": instruction, "rep": i}
    return TrialRecord(
        trial_id=stable_hash({"i": i, "instruction": instruction}),
        run_id="synthetic",
        experiment="intentional_control",
        cell_id=instruction,
        condition=condition,
        prompt="p",
        measure="logits",
        seed=i,
        logits=readout,
        concept=word,
        control=instruction,
    )


def write_run(run_dir: Path, records: list[TrialRecord]) -> RunFrame:
    with RunStore(run_dir) as store:
        store.write_batch(records)
    write_manifest(run_dir, {"run_id": "synthetic", "model": "tiny"})
    return RunFrame(load_run(run_dir), run_dir)


def layer_jitter(k: int) -> float:
    return 0.01 * (k - 4.5)


WORDS = [f"w{k}" for k in range(10)]


def think_dont_think_records() -> list[TrialRecord]:
    """One think and one don't-think trial for each of 10 words, over 3 layers; at layer 1
    word k's delta is 0.3 + j - (0.05 + j/2) (think) and 0.15 + j - (0.05 + j/2) (don't
    think): the word effect j cancels in the per-word contrast."""
    recs: list[TrialRecord] = []
    for instr, cos in (("think", [0.1, 0.3, 0.2]), ("dont_think", [0.08, 0.15, 0.1])):
        for k in range(10):
            j = layer_jitter(k)
            recs.append(
                ic_record(
                    len(recs),
                    instr,
                    {
                        "cos_by_layer": [c + j for c in cos],
                        "baseline_by_layer": [0.05, 0.05 + j / 2, 0.05],
                    },
                    word=WORDS[k],
                )
            )
    return recs


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunFrame:
    return write_run(tmp_path_factory.mktemp("ic"), think_dont_think_records())


def row(t: pd.DataFrame, **match: Any) -> pd.Series:
    m = pd.Series(True, index=t.index)
    for k, v in match.items():
        m &= t[k] == v
    (i,) = t.index[m]
    return t.loc[i]


def test_intentional_control(run: RunFrame) -> None:
    t = analysis.intentional_control_table(run)
    th = row(t, row_type="instruction", instruction="think", layer=1)
    deltas = [0.3 + layer_jitter(k) - (0.05 + layer_jitter(k) / 2) for k in range(10)]
    exp = paired_mean_ci(deltas)
    assert math.isclose(th["delta"], exp.estimate, abs_tol=1e-12)
    assert math.isclose(th["delta_ci_low"], exp.low, abs_tol=1e-12)
    assert th["delta_n"] == 10 and th["delta_n_ref"] == 10
    assert math.isclose(th["cos"], 0.3, abs_tol=1e-12) and th["cos_n"] == 10
    assert math.isclose(th["baseline"], 0.05, abs_tol=1e-12)
    con = row(t, row_type="contrast", instruction="think - dont_think", layer=1)
    assert math.isclose(con["delta"], 0.15, abs_tol=1e-9)
    # Paired by word (issue 10 defect 5): the word effect cancels, every word's contrast is
    # 0.15, so the interval is the point; unpaired (Welch) it would be wide.
    assert math.isclose(con["delta_ci_low"], 0.15, abs_tol=1e-9) and con["delta_n"] == 10
    assert math.isclose(con["delta_ci_high"], 0.15, abs_tol=1e-9) and con["delta_n_ref"] == 10
    dont = [0.15 + layer_jitter(k) - (0.05 + layer_jitter(k) / 2) for k in range(10)]
    assert mean_difference_ci(deltas, dont).low < 0.15 - 0.005
    # Only the contrast whose two instructions ran; rows per layer: 2 instructions + 1.
    assert set(t[t.row_type == "contrast"]["instruction"]) == {"think - dont_think"}
    assert list(t["layer"]) == [0] * 3 + [1] * 3 + [2] * 3
    assert list(t["instruction"][:3]) == ["think", "dont_think", "think - dont_think"]


def test_headline_is_the_largest_think_minus_dont_think_layer(run: RunFrame) -> None:
    t = EXPERIMENT.tables(run, {})
    (h,) = analysis.headlines(t, {})
    con = row(t["intentional_control"], row_type="contrast", layer=1)
    assert h.name == "intentional control: think - don't think"
    assert math.isclose(h.estimate, con["delta"], abs_tol=1e-12) and h.n == 5
    assert h.kind == "cosine" and h.config == "layer 1" and h.step is None
    assert h.unit == "words"
    assert h.sentence.startswith(
        "At layer 1 (chosen among 3 configurations on 5 words and estimated on the other 5; "
        "split seed 0)"
    )
    assert "+0.150 [" in h.sentence and "n=5 words" in h.sentence
    held_out = set(str(t["selection"]["estimated_on"].iloc[0]).split(", "))
    assert len(held_out) == 5 and held_out <= set(WORDS)


def test_a_declared_layer_is_read_on_every_word(run: RunFrame) -> None:
    declared = RunFrame(
        run.df,
        run.run_dir,
        {"specs": [{"experiment": "intentional_control", "primary": {"layer": 2}}]},
    )
    (h,) = analysis.headlines(EXPERIMENT.tables(declared, {}), {})
    assert h.sentence.startswith("At layer 2 (declared in the spec before the run)")
    assert h.n == 10 and math.isclose(h.estimate, 0.1, abs_tol=1e-9)


def test_token_table_and_plot(tmp_path: Path) -> None:
    recs: list[TrialRecord] = []
    for k in range(6):
        for instruction, bump in (("think", 0.3), ("dont_think", 0.0)):
            n_tok = 3 if k < 3 else 2  # sentences of different lengths
            cos = [[bump + 0.1 * t, 0.05] for t in range(n_tok)]  # [token][layer], 2 layers
            base = [[0.1 * t, 0.05] for t in range(n_tok)]
            recs.append(
                ic_record(
                    len(recs),
                    instruction,
                    {
                        "cos_by_token": cos,
                        "baseline_by_token": base,
                        "cos_by_layer": [0.0, 0.0],
                        "baseline_by_layer": [0.0, 0.0],
                    },
                    word="Dust",
                )
            )
    table = analysis.intentional_control_token_table(write_run(tmp_path, recs))
    assert len(table) == 2 * 3 * 2
    think = table[(table.instruction == "think") & (table.layer == 0)]
    assert all(math.isclose(d, 0.3, abs_tol=1e-9) for d in think["delta"])
    assert list(think["delta_n"]) == [6, 6, 3]  # only the longer sentences reach token 2
    flat = table[table.layer == 1]
    assert all(abs(d) < 1e-9 for d in flat["delta"])
    assert list(table["instruction"][:6]) == ["dont_think"] * 6  # sorted by name
    png = figures.plot_intentional_control_tokens(table, tmp_path / "tokens.png")
    assert png is not None and png.read_bytes()[:8] == PNG_MAGIC


def test_no_trials_no_tables_headlines_or_figures(tmp_path: Path) -> None:
    t = EXPERIMENT.tables(RunFrame(pd.DataFrame()), {})
    assert set(t) == {
        "intentional_control",
        "intentional_control_tokens",
        "intentional_control_words",
        "selection",
        "held_out",
    }
    assert all(v.empty for v in t.values())
    assert analysis.headlines(t, {}) == []
    assert figures.figures(t, tmp_path) == {}
    for fn in (
        figures.plot_intentional_control,
        figures.plot_instruction_cosines,
        figures.plot_intentional_control_tokens,
    ):
        assert fn(pd.DataFrame(), tmp_path / "x.png") is None
    assert not list(tmp_path.iterdir())
    assert EXPERIMENT.sections(t, {}) == []


def test_figures_are_pngs_and_the_section_shows_each_once(tmp_path: Path) -> None:
    recs: list[TrialRecord] = []
    for instr in ("think", "dont_think", "silent_task", "mention"):
        for k in range(4):
            recs.append(
                ic_record(
                    len(recs),
                    instr,
                    {
                        "cos_by_layer": [0.1 + 0.01 * k, 0.2, 0.15 + 0.02 * k],
                        "baseline_by_layer": [0.05, 0.05, 0.05],
                        "cos_by_token": [[0.1 + 0.01 * k, 0.2, 0.1]] * 4,
                        "baseline_by_token": [[0.05, 0.05, 0.05]] * 4,
                    },
                )
            )
    run = write_run(tmp_path / "run", recs)
    t = EXPERIMENT.tables(run, {})
    figs = figures.figures(t, tmp_path / "plots")
    assert set(figs) == {"intentional_control", "instruction_cosines", "intentional_control_tokens"}
    for p in figs.values():
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000
    (section,) = EXPERIMENT.sections(t, figs)
    assert (section.title, section.anchor) == ("Intentional control", "intentional-control")
    assert section.body.count('src="data:image/png;base64,') == 3
    # Through the whole report: the slice's section and its figures, drawn once each.
    res = load_results(tmp_path / "run")
    assert not res.failures
    assert [h.name for h in headlines(res)] == ["intentional control: think - don't think"]
    page = write_report(tmp_path / "run", results=res).read_text(encoding="utf-8")
    assert page.count('id="intentional-control"') == 1
    for alt in ("intentional control", "instruction cosines", "intentional control tokens"):
        assert page.count(f'alt="{alt}"') == 1
    assert (tmp_path / "run" / "plots" / "instruction_cosines.png").exists()
