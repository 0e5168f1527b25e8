"""Detection with the concept as the unit at a configuration chosen on held-out concepts (or
declared in the spec), through the slice's tables, headlines and scorecard steps 1, 2, 4 and
5, on constructed runs with known answers (no model)."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from conftest import TrialRecords
from introscope.experiments.base import ScoreInputs
from introscope.experiments.detection import analysis, scorecard
from introscope.experiments.selection import concept_list
from introscope.tables import RunFrame

CONCEPTS = [f"C{i:02d}" for i in range(12)]
#: per configuration: P(claim) under (concept, random, negated)
RATES = {(5, 2.0): (0.3, 0.3, 0.3), (10, 4.0): (0.8, 0.3, 0.5)}


def grades(affirmative: bool, correct: bool = False) -> dict:
    return {
        "rules": {
            "coherent": True,
            "affirmative": affirmative,
            "correct_concept": correct,
            "noticed_first": correct,
            "success": affirmative and correct,
            "outcome": "correct_detection" if correct else "miss",
            "reported": None,
        }
    }


def build(seed: int = 0, reps: int = 6, concepts: list[str] = CONCEPTS) -> TrialRecords:
    """Generation trials: every concept ``reps`` times per configuration and control; 40
    no-injection trials with 8 false positives."""
    rng = random.Random(seed)
    b = TrialRecords()
    none = {"concept": None, "layer": None, "strength": None, "control": "none"}
    for k in range(40):
        b.add("detection", none, response="r", grades=grades(k < 8))
    for (layer, strength), rates in RATES.items():
        for control, p in zip(("concept", "random", "negated"), rates, strict=True):
            for c in concepts:
                cond = {"concept": c, "layer": layer, "strength": strength, "control": control}
                for _ in range(reps):
                    aff = rng.random() < p
                    ok = control == "concept" and aff and rng.random() < 0.5
                    b.add("detection", cond, response="r", grades=grades(aff, ok))
    return b


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return analysis.tables(build().run(), {})


def test_the_configuration_is_chosen_on_half_the_concepts(tables: dict) -> None:
    sel = scorecard.select(tables)
    assert sel is not None and (sel.layer, sel.strength, sel.source) == (10, 4.0, "text")
    assert sel.how == "held out" and sel.k == 2
    assert len(sel.chosen_on) == len(sel.estimated_on) == 6
    assert sorted(sel.chosen_on + sel.estimated_on) == CONCEPTS
    row = tables["selection"].iloc[0]
    assert concept_list(row["estimated_on"]) == sel.estimated_on and row["seed"] == 0


def test_estimates_average_the_held_out_concepts(tables: dict) -> None:
    sel = scorecard.select(tables)
    assert sel is not None
    rates = tables["concept_rates"]
    mine = rates[
        (rates["source"] == "text")
        & (rates["layer"] == 10)
        & (rates["control"] == "concept")
        & rates["concept"].isin(sel.estimated_on)
    ]
    held = tables["held_out"].set_index("quantity")
    assert held.loc["raw", "value"] == pytest.approx(mine["claims_detection"].mean())
    assert held.loc["raw", "value_n"] == 6
    assert held.loc["net", "value"] == pytest.approx(mine["claims_detection"].mean() - 0.2)
    assert held.loc["net", "value_n_ref"] == 40


def test_paired_contrasts_recover_the_planted_differences(tables: dict) -> None:
    con = tables["contrasts"]
    at10 = con[(con["layer"] == 10) & (con["source"] == "text")].set_index("contrast")
    assert at10.loc["concept - random", "diff"] == pytest.approx(0.5, abs=0.1)
    assert at10.loc["concept - random", "diff_ci_low"] > 0
    assert at10.loc["concept - negated", "diff"] == pytest.approx(0.3, abs=0.1)
    at5 = con[(con["layer"] == 5) & (con["source"] == "text")].set_index("contrast")
    for contrast in ("concept - random", "concept - negated"):
        assert at5.loc[contrast, "diff_ci_low"] < 0 < at5.loc[contrast, "diff_ci_high"]
        assert at5.loc[contrast, "diff_n"] == 12
    # Holm over the two configurations of each contrast
    for contrast in ("concept - random", "concept - negated"):
        ps = con[(con["source"] == "text") & (con["contrast"] == contrast)]
        assert (ps["diff_p_holm"] >= ps["diff_p"]).all()


def test_concept_level_columns_sit_next_to_the_trial_level_ones(tables: dict) -> None:
    det = tables["detection"]
    row = det[(det["layer"] == 10) & (det["control"] == "concept")].iloc[0]
    assert row["claims_detection_n"] == 72 and row["claims_detection_by_concept_n"] == 12
    assert row["claims_detection_by_concept"] == pytest.approx(row["claims_detection"])
    # concepts differ little here, but the concept-level interval never counts trials as n
    assert row["net_affirmative_by_concept_n_ref"] == 40
    assert 0 <= row["net_affirmative_by_concept_p_holm"] <= 1


def test_scorecard_lines_name_their_unit_and_the_protocol(tables: dict) -> None:
    sel = scorecard.select(tables)
    lines = scorecard.scorecard(ScoreInputs(tables, {}, sel))
    by_step: dict[int | None, list] = {}
    for ln in lines:
        by_step.setdefault(ln.step, []).append(ln)
    # step 4: random, negated, then the other-concept and matched-random controls this run
    # lacks ('Not run'); then the wording (step 2) and leakage (step 5) lines
    assert [ln.step for ln in lines][:10] == [1, 2, 4, 4, 4, 4, 5, 5, 5, 5]
    note = "(chosen among 2 configurations on 6 concepts and estimated on the other 6"
    assert note in by_step[1][0].sentence and by_step[1][0].unit == "concepts"
    assert "depends on whether a vector was injected" in by_step[2][0].sentence
    random_line, negated_line, other_line, matched_line = by_step[4]
    assert not other_line.available and not matched_line.available
    assert random_line.name == "concept - random vector (paired by concept)"
    assert random_line.ci_low > 0 and random_line.n == 6 and random_line.unit == "concepts"
    assert "depends on which direction was injected" in random_line.sentence
    assert negated_line.name == "concept - negated vector (paired by concept)"
    for ln in lines:
        assert ln.config in ("", "layer 10, strength 4") or ln.config.startswith("layer 10")


def test_a_declared_configuration_is_read_on_every_concept() -> None:
    run = build().run()
    run.manifest = {
        "specs": [
            {
                "experiment": "detection",
                "measure": "generation",
                "seed": 0,
                "primary": {"layer": 5, "strength": 2.0},
            }
        ]
    }
    t = analysis.tables(run, {})
    sel = scorecard.select(t)
    assert sel is not None and (sel.layer, sel.strength, sel.how) == (5, 2.0, "declared")
    assert sel.chosen_on == () and len(sel.estimated_on) == 12
    raw, net = scorecard.scorecard(ScoreInputs(t, {}, sel))[:2]
    assert "(declared in the spec before the run)" in raw.sentence and raw.n == 12
    assert "not distinguishable from the false-positive rate" in net.sentence


def test_one_held_out_concept_gives_undetermined_lines() -> None:
    t = analysis.tables(build(concepts=["A", "B"]).run(), {})
    sel = scorecard.select(t)
    assert sel is not None and sel.how == "held out" and len(sel.estimated_on) == 1
    lines = scorecard.scorecard(ScoreInputs(t, {}, sel))
    net = lines[1]
    assert net.n == 1 and math.isnan(net.ci_low)
    assert "undetermined (no interval: too few concepts)." in net.sentence
    for ln in lines:
        assert "not distinguishable" not in ln.sentence and "no evidence" not in ln.sentence


def test_seed_of_the_split_comes_from_the_spec() -> None:
    run: RunFrame = build().run()
    run.manifest = {"specs": [{"experiment": "detection", "measure": "generation", "seed": 7}]}
    row = analysis.tables(run, {})["selection"].iloc[0]
    assert row["seed"] == 7 and "split seed 7" in row["note"]
