"""The thoughts-vs-text table, headline, figure and section on synthetic trials (ported from
``tests/test_analysis_report.py``: test_thoughts_vs_text and the thoughts-vs-text parts of
test_empty_and_missing_experiments)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.thoughts_vs_text import EXPERIMENT
from introscope.experiments.thoughts_vs_text.analysis import thoughts_vs_text_table
from introscope.experiments.thoughts_vs_text.figures import plot_thoughts_vs_text
from introscope.stats import rate
from introscope.store import RunStore, TrialRecord, load_run, stable_hash
from introscope.tables import RunFrame
from support import TrialRecords

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tvt_record(i: int, condition: dict[str, Any], **fields: Any) -> TrialRecord:
    return TrialRecord(
        trial_id=stable_hash({"i": i, "experiment": "thoughts_vs_text"}),
        run_id="synthetic-run",
        experiment="thoughts_vs_text",
        cell_id=stable_hash(condition)[:12],
        condition={**condition, "rep": i},
        prompt=f"Which word comes to mind? (trial {i})",
        measure="generation",
        seed=i,
        **fields,
    )


def tvt_cond(layer: int | None, strength: float | None, control: str) -> dict[str, Any]:
    return {"concept": "oceans", "layer": layer, "strength": strength, "control": control}


def frame_of(tmp_path: Path, records: list[TrialRecord]) -> RunFrame:
    with RunStore(tmp_path) as store:
        store.write_batch(records)
    return RunFrame(load_run(tmp_path), tmp_path)


@pytest.fixture
def run(tmp_path: Path) -> RunFrame:
    """40 concept trials at layer 10 / strength 4 (20 identified, 30 exact) and 40
    no-injection trials (4 identified, all exact)."""
    recs = []
    for k in range(40):
        rank = 1 if k < 20 else 5
        recs.append(
            tvt_record(
                len(recs),
                {"sentence_id": k % 4, **tvt_cond(10, 4.0, "concept")},
                response="The old clock ticked." if k < 30 else "The old clock tocked.",
                logits={"candidate_rank": rank, "n_candidates": 10},
                grades={"rules": {"identified": rank == 1, "exact_match": k < 30}},
            )
        )
    for k in range(40):
        recs.append(
            tvt_record(
                len(recs),
                {"sentence_id": k % 4, **tvt_cond(None, None, "none")},
                response="The old clock ticked.",
                logits={"candidate_rank": 1 if k < 4 else 7, "n_candidates": 10},
                grades={"rules": {"identified": k < 4, "exact_match": True}},
            )
        )
    return frame_of(tmp_path, recs)


def row(table: pd.DataFrame, **match: Any) -> pd.Series:
    m = pd.Series(True, index=table.index)
    for k, v in match.items():
        m &= table[k].isna() if v is None else table[k] == v
    sub = table[m]
    assert len(sub) == 1, f"{match}: {len(sub)} rows"
    return sub.iloc[0]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_thoughts_vs_text(run: RunFrame) -> None:
    t = thoughts_vs_text_table(run)
    r = row(t, layer=10, strength=4.0, control="concept")
    assert r["identification_n"] == 40 and close(r["identification"], 0.5)
    assert close(r["identification_vs_chance"], 0.4)
    assert close(r["identification_vs_chance_ci_low"], rate(20, 40).low - 0.1)
    assert close(r["exact_match"], 0.75)
    # One concept: its paired difference is 0.5 - 0.1, with no interval (n = 1 concept).
    assert close(r["identification_vs_control"], 0.4) and r["identification_vs_control_n"] == 1
    assert math.isnan(r["identification_vs_control_ci_high"])
    assert close(r["both"], 0.5)
    assert r["identification_per_token_n"] == 0  # not recorded before protocol 2
    assert r["shared_candidates"] is None
    c = row(t, layer=None, strength=None, control="none")
    assert close(c["identification"], 0.1) and c["identification_vs_control_n"] == 0
    assert math.isnan(c["identification_vs_control"])


def test_identification_falls_back_to_the_rank_and_chance_to_a_tenth(tmp_path: Path) -> None:
    # No `identified` grade: rank 1 counts as identified; no n_candidates: chance is 0.1.
    recs = [
        tvt_record(
            k,
            tvt_cond(3, 2.0, "concept"),
            logits={"candidate_rank": 1 if k < 3 else 2},
            grades={"rules": {"exact_match": True}},
        )
        for k in range(4)
    ]
    t = thoughts_vs_text_table(frame_of(tmp_path, recs))
    r = row(t, control="concept")
    assert r["identification_n"] == 4 and close(r["identification"], 0.75)
    assert close(r["chance"], 0.1) and close(r["identification_vs_chance"], 0.65)


def test_chance_is_the_mean_of_one_over_n_candidates(tmp_path: Path) -> None:
    recs = [
        tvt_record(
            k,
            tvt_cond(3, 2.0, "concept"),
            logits={"candidate_rank": 1, "n_candidates": n},
            grades={"rules": {"identified": True, "exact_match": True}},
        )
        for k, n in enumerate((4, 5))
    ]
    r = row(thoughts_vs_text_table(frame_of(tmp_path, recs)), control="concept")
    assert close(r["chance"], (1 / 4 + 1 / 5) / 2)


def test_headline_reads_a_held_out_configuration(tmp_path: Path) -> None:
    # 10 concepts, 4 trials each per configuration: at layer 10 two of a concept's four picks
    # are the injected word (3 of 4 sentences exact), at layer 5 none are.
    recs: list[TrialRecord] = []
    for c in [f"c{i}" for i in range(10)]:
        for layer, hits in ((5, 0), (10, 2)):
            for k in range(4):
                rank = 1 if k < hits else 5
                recs.append(
                    tvt_record(
                        len(recs),
                        {"concept": c, "layer": layer, "strength": 4.0, "control": "concept"},
                        logits={"candidate_rank": rank, "n_candidates": 10},
                        grades={"rules": {"identified": rank == 1, "exact_match": k < 3}},
                    )
                )
    t = EXPERIMENT.tables(frame_of(tmp_path, recs), {})
    h, held = EXPERIMENT.headlines(t, {})
    assert h.name == "thoughts vs text: identification vs no injection"
    assert h.n == 0 and "undetermined" in h.sentence  # no no-injection trials to pair with
    assert held.name == "thoughts vs text: identification at the selected configuration"
    assert close(held.estimate, 0.4) and close(held.ci_low, 0.4) and held.n == 5
    assert held.unit == "concepts" and held.kind == "rate_difference" and held.step is None
    assert held.sentence.startswith(
        "At layer 10, strength 4 (chosen among 2 configurations on 5 concepts and estimated "
        "on the other 5; split seed 0), the word picked among the candidates"
    )
    assert "in 50% of trials" in held.sentence and "exactly in 75% of trials" in held.sentence
    # no no-injection trials: the weaker reference, nominal chance, and the sentence says so
    assert "relative to nominal chance (0.10; the run has no no-injection trials" in (held.sentence)
    assert "favours the injected word more than chance" in held.sentence


def test_headlines(run: RunFrame) -> None:
    t = EXPERIMENT.tables(run, {})
    h, held = EXPERIMENT.headlines(t, {})
    assert h.name == "thoughts vs text: identification vs no injection"
    assert close(h.estimate, 0.4) and h.n == 1 and h.unit == "concepts"
    assert h.kind == "rate_difference" and h.step is None
    assert h.sentence.startswith("Pooled over the 1 concept-injection configuration run")
    assert "picked in 50% of trials against 10% without injection" in h.sentence
    assert "undetermined" in h.sentence and "exactly in 75% of injected trials" in h.sentence
    assert "predates shared candidate sets" in h.sentence
    # the same difference at the (only) configuration: one concept is undetermined, not a
    # verdict
    assert held.n == 1 and close(held.estimate, 0.4) and math.isnan(held.ci_low)
    assert "relative to its own no-injection trials (paired by concept)" in held.sentence
    assert "undetermined" in held.sentence and "no evidence" not in held.sentence


def test_figure_and_section(run: RunFrame, tmp_path: Path) -> None:
    t = EXPERIMENT.tables(run, {})
    figs = EXPERIMENT.figures(t, tmp_path / "plots")
    assert list(figs) == ["thoughts_vs_text"]
    data = figs["thoughts_vs_text"].read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000
    (section,) = EXPERIMENT.sections(t, figs)
    assert section.title == "Thoughts vs. text"
    assert 'src="data:image/png;base64,' in section.body


def test_empty_run(tmp_path: Path) -> None:
    t = EXPERIMENT.tables(RunFrame(pd.DataFrame()), {})
    assert list(t) == [
        "thoughts_vs_text",
        "vs_control",
        "thoughts_vs_text_concepts",
        "selection",
        "held_out",
    ]
    assert all(v.empty for v in t.values())
    assert EXPERIMENT.headlines(t, {}) == []
    assert plot_thoughts_vs_text(pd.DataFrame(), tmp_path / "x.png") is None
    assert EXPERIMENT.figures(t, tmp_path) == {}
    assert not (tmp_path / "x.png").exists()
    assert EXPERIMENT.sections(t, {}) == []


# --------------------------------------------------------------------------- vs control


def shared_run(seed: int, n: int = 20, p_injected: float = 0.6, p_control: float = 0.3) -> Any:
    """``n`` concepts x 2 sentences x (concept at 2 configurations, none at each), the same
    candidates per (concept, sentence). The control rate is far from the nominal 10%: the
    target is a word the model likes anyway. Per-token ranks agree with summed ranks."""
    rng = np.random.default_rng(seed)
    recs = TrialRecords()
    for ci in range(n):
        bias = float(rng.normal(0.0, 0.15))  # concepts differ in how likeable their word is
        for sid in range(2):
            cands = [f"w{ci}", *[f"d{ci}_{sid}_{k}" for k in range(9)]]
            for layer in (10, 20):
                for control, p in (("concept", p_injected), ("none", p_control)):
                    hit = bool(rng.random() < min(1.0, max(0.0, p + bias)))
                    recs.add(
                        "thoughts_vs_text",
                        {
                            "concept": f"w{ci}",
                            "sentence_id": sid,
                            "layer": layer,
                            "strength": 4.0,
                            "control": control,
                        },
                        logits={
                            "candidate_rank": 1 if hit else 3,
                            "candidate_rank_per_token": 1 if hit else 4,
                            "n_candidates": 10,
                            "candidates": cands,
                        },
                        grades={"rules": {"identified": hit, "exact_match": True}},
                    )
    return recs.run()


def test_identification_is_compared_with_the_control_paired_per_concept() -> None:
    t = EXPERIMENT.tables(shared_run(0), {})
    tvt = t["thoughts_vs_text"]
    r = tvt[(tvt["control"] == "concept") & (tvt["layer"] == 10)].iloc[0]
    assert r["identification_vs_control_n"] == 20 and r["shared_candidates"] == True  # noqa: E712
    assert close(r["identification_per_token_vs_control"], r["identification_vs_control"])
    vc = t["vs_control"].iloc[0]
    assert vc["control"] == "concept" and vc["configurations"] == 2
    assert vc["identification_vs_control_n"] == 20 and vc["shared_candidates"] == True  # noqa: E712
    h, _ = EXPERIMENT.headlines(t, {})
    assert h.estimate == vc["identification_vs_control"] and h.n == 20
    assert "predates" not in h.sentence and "by mean log-probability per token" in h.sentence


def test_the_control_not_chance_decides_over_seeded_runs() -> None:
    """With the control at 30%, a 30% identification rate is 20 points above chance and no
    detection; 60% is one."""
    found, false_alarms, above_chance = 0, 0, 0
    for seed in range(15):
        real = EXPERIMENT.tables(shared_run(seed), {})["vs_control"].iloc[0]
        found += real["identification_vs_control_ci_low"] > 0
        null = EXPERIMENT.tables(shared_run(seed, p_injected=0.3), {})
        nv = null["vs_control"].iloc[0]
        false_alarms += nv["identification_vs_control_ci_low"] > 0
        tvt = null["thoughts_vs_text"]
        above_chance += (
            tvt[tvt["control"] == "concept"]["identification_vs_chance_ci_low"].iloc[0] > 0
        )
    assert found >= 13 and false_alarms <= 1 and above_chance >= 13


def test_candidate_sets_that_differ_between_arms_are_flagged() -> None:
    run = shared_run(0, n=4)
    for r in run.records("thoughts_vs_text"):
        if r["condition"]["control"] == "none":
            r["logits"]["candidates"] = list(reversed(r["logits"]["candidates"]))
    t = EXPERIMENT.tables(run, {})
    assert t["vs_control"].iloc[0]["shared_candidates"] == False  # noqa: E712
