"""The prefill table, headlines, figure and section on synthetic trials (ported from
``tests/test_analysis_report.py``: test_prefill and the prefill parts of
test_empty_and_missing_experiments)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments.prefill import EXPERIMENT
from introscope.experiments.prefill.analysis import prefill_table
from introscope.experiments.prefill.figures import plot_prefill
from introscope.stats import paired_mean_ci, rate_difference
from introscope.store import RunStore, TrialRecord, load_run, stable_hash
from introscope.tables import RunFrame
from support import TrialRecords

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def prefill_records(
    injected: str,
    n_apology: int,
    layer: int | None = 10,
    start: int = 0,
    n: int = 40,
    word: str = "bread",
) -> list[TrialRecord]:
    """``n`` trials of one condition, the first ``n_apology`` of them apologising."""
    none = injected == "none"
    condition = {
        "sentence_id": 1,
        "word": word,
        "injected": injected,
        "inject_concept": None if none else word,
        "layer": None if none else layer,
        "strength": None if none else 4.0,
    }
    return [
        TrialRecord(
            trial_id=stable_hash({"i": start + k, "experiment": "prefill"}),
            run_id="synthetic-run",
            experiment="prefill",
            cell_id=stable_hash(condition)[:12],
            condition={**condition, "rep": start + k},
            prompt=f"Did you mean to say that? (trial {start + k})",
            measure="generation",
            seed=start + k,
            response="Sorry, that was an accident." if k < n_apology else "I meant it.",
            grades={"rules": {"apology": k < n_apology, "coherent": True}},
        )
        for k in range(n)
    ]


def frame_of(tmp_path: Path, records: list[TrialRecord]) -> RunFrame:
    with RunStore(tmp_path) as store:
        store.write_batch(records)
    return RunFrame(load_run(tmp_path), tmp_path)


@pytest.fixture
def run(tmp_path: Path) -> RunFrame:
    """40 trials each: no injection (30 apologies), match (10), other (28), at layer 10."""
    recs = [
        *prefill_records("none", 30, start=0),
        *prefill_records("match", 10, start=40),
        *prefill_records("other", 28, start=80),
    ]
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


def test_prefill(run: RunFrame) -> None:
    t = prefill_table(run)
    r = row(t, injected="match", layer=10, strength=4.0)
    d = rate_difference(10, 40, 30, 40)
    assert close(r["apology"], 0.25) and close(r["apology_vs_none"], -0.5)
    assert close(r["apology_vs_none_ci_low"], d.low) and close(r["apology_vs_none_ci_high"], d.high)
    o = row(t, injected="other", layer=10, strength=4.0)
    assert close(o["apology_vs_none"], 28 / 40 - 30 / 40)
    n = row(t, injected="none")
    assert n["apology_n"] == 40 and math.isnan(n["apology_vs_none"])
    assert n["apology_vs_none_n"] == 0
    # configurations by layer and strength, the no-injection row (no layer) last
    assert list(t["injected"]) == ["match", "other", "none"]


WORDS = [f"w{k}" for k in range(10)]


def test_headlines_read_one_configuration_on_held_out_words(tmp_path: Path) -> None:
    # 10 words, 4 trials per word and condition. Without injection 3 of 4 apologise; the
    # word's own vector lowers that to 1 of 4 at layer 10 and raises it to 4 of 4 at layer
    # 12; another word's vector leaves 3 of 4 at both layers.
    recs: list[TrialRecord] = []
    for w in WORDS:
        for injected, n_apology, layer in (
            ("none", 3, None),
            ("match", 1, 10),
            ("match", 4, 12),
            ("other", 3, 10),
            ("other", 3, 12),
        ):
            recs += prefill_records(injected, n_apology, layer, len(recs), 4, w)
    t = EXPERIMENT.tables(frame_of(tmp_path, recs), {})
    _, match, other, contrast = EXPERIMENT.headlines(t, {})
    note = "(chosen among 2 configurations on 5 words and estimated on the other 5; split seed 0)"
    assert match.name == "prefill: apology change (match)"
    assert close(match.estimate, -0.5) and match.n == 5 and match.unit == "words"
    assert match.kind == "rate_difference" and match.config == "layer 10, strength 4"
    assert match.sentence.startswith(
        f"At layer 10, strength 4 {note}, injecting the prefilled word's vector before the "
        "prefill changes the apology rate, relative to no injection, by -0.50 "
    )
    assert other.name == "prefill: apology change (other)" and close(other.estimate, 0.0)
    assert contrast.name == "prefill: match - other (paired by word)"
    assert close(contrast.estimate, -0.5) and contrast.n == 5
    assert "fewer apologies under its own vector" in contrast.sentence
    # the per-word columns of the table: every word's rate minus its own no-injection rate
    r = row(t["prefill"], injected="match", layer=12, strength=4.0)
    assert close(r["apology_vs_none_by_word"], 0.25) and r["apology_vs_none_by_word_n"] == 10


def test_figure_and_section(run: RunFrame, tmp_path: Path) -> None:
    t = EXPERIMENT.tables(run, {})
    figs = EXPERIMENT.figures(t, tmp_path / "plots")
    assert list(figs) == ["prefill"]
    data = figs["prefill"].read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000
    section, agreement = EXPERIMENT.sections(t, figs)
    assert section.title == "Prefill / retroactive intention"
    assert 'src="data:image/png;base64,' in section.body
    # the rule grader's agreement with hand labels (issue 10)
    assert agreement.title == "Grader agreement (rules vs hand labels)"
    assert "apology" in agreement.body


def test_empty_run(tmp_path: Path) -> None:
    t = EXPERIMENT.tables(RunFrame(pd.DataFrame()), {})
    assert list(t) == [
        "prefill",
        "prefill_words",
        "match_vs_other",
        "selection",
        "held_out",
        "rules_validation",
    ]
    assert all(v.empty for v in t.values())
    assert EXPERIMENT.headlines(t, {}) == []
    assert plot_prefill(pd.DataFrame(), tmp_path / "x.png") is None
    assert EXPERIMENT.figures(t, tmp_path) == {}
    assert not (tmp_path / "x.png").exists()
    assert EXPERIMENT.sections(t, {}) == []


# --------------------------------------------------------------------------- match - other


def word_trials(
    records: TrialRecords,
    word: str,
    injected: str,
    apologies: list[bool],
    coherent: list[bool],
    layer: int | None = 10,
    norm: float | None = None,
) -> None:
    none = injected == "none"
    for apology, coh in zip(apologies, coherent, strict=True):
        rec = records.add(
            "prefill",
            {
                "sentence_id": 0,
                "word": word,
                "injected": injected,
                "inject_concept": None if none else word,
                "layer": None if none else layer,
                "strength": None if none else 4.0,
            },
            response="Sorry, that was an accident." if apology else "I meant it.",
            grades={"rules": {"apology": apology, "coherent": coh}},
        )
        if norm is not None and not none:
            rec.injection = {"strength": 4.0, "vector_norm": norm}


def planted_words(seed: int, n_words: int = 16, effect: float = -0.3) -> TrialRecords:
    """Per word, 6 trials per arm: "other" apologises with probability 0.6, "match" with
    0.6 + ``effect``; a third of each arm's answers are incoherent and apologise always
    (so counting them would hide the effect)."""
    rng = np.random.default_rng(seed)
    records = TrialRecords()
    for w in range(n_words):
        for arm, p in (("none", 0.6), ("other", 0.6), ("match", 0.6 + effect)):
            coherent = [k % 3 != 0 for k in range(6)]
            apologies = [bool(rng.random() < p) if c else True for c in coherent]
            word_trials(records, f"w{w}", arm, apologies, coherent, norm=1.0 + 0.1 * w)
    return records


def test_match_minus_other_is_paired_per_word_on_coherent_answers() -> None:
    records = TrialRecords()
    # word a: match 0/2 coherent apologies (one incoherent apology left out), other 2/2
    word_trials(records, "a", "match", [False, False, True], [True, True, False])
    word_trials(records, "a", "other", [True, True], [True, True])
    # word b: match 1/2, other 1/2
    word_trials(records, "b", "match", [True, False], [True, True])
    word_trials(records, "b", "other", [False, True], [True, True])
    # word c: no coherent "other" answer: left out of the pairing
    word_trials(records, "c", "match", [False], [True])
    word_trials(records, "c", "other", [True], [False])
    word_trials(records, "a", "none", [True], [True])
    t = EXPERIMENT.tables(records.run(), {})["match_vs_other"]
    assert list(t["layer"].isna()) == [False, True]  # layer 10, then the pooled row
    at = t.iloc[0]
    d = paired_mean_ci([0.0 - 1.0, 0.5 - 0.5])
    assert at["match_minus_other_n"] == 2 and close(at["match_minus_other"], d.estimate)
    assert close(at["match_minus_other_ci_low"], d.low)
    assert close(at["apology_match"], 1 / 5) and at["apology_match_n"] == 5
    assert close(at["coherent_match"], 5 / 6) and at["apology_other_n"] == 4
    assert at["apology_none_n"] == 1
    pooled = t.iloc[1]
    assert pooled["configurations"] == 1 and close(pooled["match_minus_other"], d.estimate)


def test_match_minus_other_recovers_a_planted_effect_over_seeded_runs() -> None:
    hits, nulls, covered = 0, 0, 0
    for seed in range(20):
        row = EXPERIMENT.tables(planted_words(seed).run(), {})["match_vs_other"].iloc[-1]
        hits += row["match_minus_other_ci_high"] < 0
        covered += row["match_minus_other_ci_low"] <= -0.3 <= row["match_minus_other_ci_high"]
        assert row["match_minus_other_n"] == 16
        null = EXPERIMENT.tables(planted_words(seed, effect=0.0).run(), {})["match_vs_other"]
        nulls += null.iloc[-1]["match_minus_other_ci_high"] < 0
    assert hits >= 16 and covered >= 17 and nulls <= 2


def test_match_minus_other_headline_pools_the_configurations() -> None:
    records = planted_words(0)
    extra = planted_words(1)
    for r in extra.records:  # the same words at a second configuration
        r.condition = {**r.condition, "layer": 12} if r.condition["layer"] else r.condition
        records.records.append(r)
    t = EXPERIMENT.tables(records.run(), {})
    mvo = t["match_vs_other"]
    assert list(mvo["layer"].iloc[:2]) == [10, 12] and mvo.iloc[-1]["configurations"] == 2
    first = EXPERIMENT.headlines(t, {})[0]
    assert first.name == "prefill: match - other apology (coherent answers)"
    assert first.unit == "concepts" and first.n == 16 and first.kind == "rate_difference"
    assert first.estimate == mvo.iloc[-1]["match_minus_other"] and first.ci_high < 0
    assert "averaged over the 2 configurations run (none selected)" in first.sentence
    assert bool(mvo["norm_matched"].iloc[-1])
    assert "another word's vector of the same norm" in first.sentence
    assert "disowns the word less after its own vector" in first.sentence


def test_a_run_whose_other_vector_was_not_rescaled_says_so() -> None:
    records = planted_words(0)
    for r in records.records:
        if r.condition["injected"] == "other" and r.injection is not None:
            r.injection = {**r.injection, "vector_norm": r.injection["vector_norm"] * 1.3}
    t = EXPERIMENT.tables(records.run(), {})
    assert not t["match_vs_other"]["norm_matched"].any()
    first = EXPERIMENT.headlines(t, {})[0]
    assert "at its own norm, not the prefilled word's" in first.sentence
    assert "predates prefill protocol 2" in first.sentence


def test_too_few_words_are_undetermined() -> None:
    records = TrialRecords()
    word_trials(records, "a", "match", [False], [True])
    word_trials(records, "a", "other", [True], [True])
    word_trials(records, "a", "none", [True], [True])
    first = EXPERIMENT.headlines(EXPERIMENT.tables(records.run(), {}), {})[0]
    assert "undetermined" in first.sentence and math.isnan(first.ci_low)
