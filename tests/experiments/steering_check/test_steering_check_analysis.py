"""The steering check on constructed runs with known answers (no model): the positive control
per configuration, the KL table and its ratio, the scorecard's step 0 and the gate it puts on
every later line, and the KL clause of step 4."""

from __future__ import annotations

import math
import random
from typing import Any

import pandas as pd
import pytest

from introscope.experiments.steering_check import analysis, scorecard
from introscope.experiments.steering_check.analysis import KL_MATCH_FACTOR, kl_match, verdict
from introscope.headlines import Headline
from introscope.report.results import Gate, analyse, gated, scorecard_lines
from introscope.tables import RunFrame
from introscope.words import word_list
from support import TrialRecords

CONCEPTS = word_list("main")[:20]
CONTROLS = ("concept", "random", "negated", "other", "matched_random")
LAYER, STRENGTH = 10, 4.0


def add_steering(
    b: TrialRecords,
    *,
    lift: dict[str, float],
    kl: dict[str, float],
    noise: float = 0.0,
    kl_noise: float = 0.0,
    seed: int = 0,
    layer: int = LAYER,
    strength: float = STRENGTH,
    concepts: list[str] = CONCEPTS,
) -> None:
    """One steering-check trial per concept x control at one configuration: the concept word's
    log-prob rises by ``lift[control]`` (+ Gaussian noise) over a concept-specific clean
    value, and the KL is ``kl[control]`` times a log-normal factor (``kl_noise``)."""
    rng = random.Random(seed)
    for concept in concepts:
        clean = -8.0 + rng.gauss(0.0, 1.0)
        for control in CONTROLS:
            if control not in lift:
                continue
            b.add(
                "steering_check",
                {"concept": concept, "layer": layer, "strength": strength, "control": control},
                measure="logits",
                logits={
                    "concept_logprob": clean + lift[control] + rng.gauss(0.0, noise),
                    "concept_logprob_clean": clean,
                    "kl": kl[control] * math.exp(rng.gauss(0.0, kl_noise)),
                    "top_token": "The",
                },
            )


def add_detection(b: TrialRecords, layer: int = LAYER, strength: float = STRENGTH) -> None:
    """Generation detection trials at one configuration (concept injection claims detection
    half the time, no injection never) so that the scorecard selects that configuration."""
    grades = {
        "rules": {
            "coherent": True,
            "affirmative": True,
            "correct_concept": False,
            "noticed_first": False,
            "success": False,
            "outcome": "detection_without_identification",
        }
    }
    miss = {"rules": {**grades["rules"], "affirmative": False, "outcome": "miss"}}
    for k, concept in enumerate(CONCEPTS):
        for control in ("concept", "random"):
            b.add(
                "detection",
                {"concept": concept, "layer": layer, "strength": strength, "control": control},
                response="Yes, I notice something.",
                grades=grades if k % 2 == 0 else miss,
            )
    for _ in range(20):
        b.add(
            "detection",
            {"concept": None, "layer": None, "strength": None, "control": "none"},
            response="No.",
            grades=miss,
        )


FLAT_KL = dict.fromkeys(CONTROLS, 0.5)


# --------------------------------------------------------------------------- the tables


def test_an_injection_that_does_nothing_fails_and_a_working_one_passes() -> None:
    b = TrialRecords()
    add_steering(b, lift=dict.fromkeys(CONTROLS, 0.0), kl=dict.fromkeys(CONTROLS, 0.0))
    add_steering(b, lift={**dict.fromkeys(CONTROLS, 0.0), "concept": 2.0}, kl=FLAT_KL, strength=8)
    t = analysis.steering_table(b.run())
    nothing, working = t.iloc[0], t.iloc[1]
    assert (nothing["strength"], working["strength"]) == (4.0, 8.0)
    # nothing moves: a point interval at 0, which is not above 0
    assert nothing["concept_minus_random"] == 0.0 == nothing["concept_minus_random_ci_low"]
    assert nothing["verdict"] == "fails"
    assert working["concept_minus_random"] == pytest.approx(2.0)
    assert working["concept_minus_random_n"] == len(CONCEPTS)
    assert working["concept_lift"] == pytest.approx(2.0) and working["random_lift"] == 0.0
    assert working["verdict"] == "passes"


def test_positive_control_error_rates_over_seeded_repeats() -> None:
    """Null (concept and random vectors move the word alike, with noise): the check passes in
    about 2.5% of repeats (a one-sided reading of a 95% interval). A real +1.5 nat effect
    with the same noise (about 4.7 standard errors over 20 concepts) passes almost always."""
    passes_null = passes_real = 0
    repeats = 200
    for seed in range(repeats):
        b = TrialRecords()
        add_steering(b, lift={"concept": 0.3, "random": 0.3}, kl=FLAT_KL, noise=1.0, seed=seed)
        add_steering(
            b,
            lift={"concept": 1.5, "random": 0.0},
            kl=FLAT_KL,
            noise=1.0,
            seed=seed,
            strength=8,
        )
        t = analysis.steering_table(b.run())
        passes_null += t.iloc[0]["verdict"] == "passes"
        passes_real += t.iloc[1]["verdict"] == "passes"
    assert passes_null / repeats <= 0.06
    assert passes_real / repeats >= 0.95


def test_concepts_are_the_unit() -> None:
    """Two trials of one concept are averaged before the interval: n counts concepts."""
    b = TrialRecords()
    add_steering(b, lift={"concept": 1.0, "random": 0.0}, kl=FLAT_KL, noise=0.5, seed=1)
    add_steering(b, lift={"concept": 1.0, "random": 0.0}, kl=FLAT_KL, noise=0.5, seed=2)
    row = analysis.steering_table(b.run()).iloc[0]
    assert row["concept_minus_random_n"] == len(CONCEPTS)
    assert row["concept_lift_n"] == len(CONCEPTS)


def test_kl_table_ratio_and_match() -> None:
    b = TrialRecords()
    kl = {"concept": 1.0, "random": 0.05, "negated": 1.0, "other": 3.0, "matched_random": 1.0}
    add_steering(b, lift=dict.fromkeys(CONTROLS, 0.0), kl=kl)
    t = analysis.kl_table(b.run()).set_index("control")
    assert list(t.index) == list(CONTROLS)  # the usual control order
    assert t.loc["concept", "kl_match"] == "reference" and math.isnan(t.loc["concept", "kl_ratio"])
    # exact ratios per concept: point intervals
    assert t.loc["random", "kl_ratio"] == pytest.approx(0.05)
    assert t.loc["random", "kl_match"] == "weaker"
    assert t.loc["negated", "kl_ratio"] == pytest.approx(1.0)
    assert t.loc["negated", "kl_match"] == "comparable"
    assert t.loc["other", "kl_match"] == "stronger"
    assert t.loc["random", "kl"] == pytest.approx(0.05)
    assert t.loc["random", "kl_n"] == t.loc["random", "kl_ratio_n"] == len(CONCEPTS)


def test_kl_ratio_interval_is_over_concepts() -> None:
    """Log-normal scatter around the concept vector's KL: the geometric-mean ratio's interval
    covers 1, and is wider with fewer concepts."""
    b = TrialRecords()
    kl = dict.fromkeys(CONTROLS, 0.5)
    add_steering(b, lift=dict.fromkeys(CONTROLS, 0.0), kl=kl, kl_noise=0.3, seed=3)
    add_steering(
        b,
        lift=dict.fromkeys(CONTROLS, 0.0),
        kl=kl,
        kl_noise=0.3,
        seed=3,
        strength=8,
        concepts=CONCEPTS[:5],
    )
    t = analysis.kl_table(b.run())
    many = t[(t["strength"] == 4.0) & (t["control"] == "random")].iloc[0]
    few = t[(t["strength"] == 8.0) & (t["control"] == "random")].iloc[0]
    assert many["kl_ratio_ci_low"] < 1 < many["kl_ratio_ci_high"]
    assert many["kl_ratio_n"] == 20 and few["kl_ratio_n"] == 5
    width = lambda r: math.log(r["kl_ratio_ci_high"] / r["kl_ratio_ci_low"])  # noqa: E731
    assert width(few) > width(many)


def test_zero_kl_has_no_ratio() -> None:
    b = TrialRecords()
    add_steering(b, lift=dict.fromkeys(CONTROLS, 0.0), kl=dict.fromkeys(CONTROLS, 0.0))
    row = analysis.kl_table(b.run()).set_index("control").loc["random"]
    assert row["kl"] == 0.0 and row["kl_ratio_n"] == 0 and row["kl_match"] == "undetermined"


def test_verdict_and_match_wording() -> None:
    assert verdict(0.01) == "passes" and verdict(0.0) == "fails" and verdict(-1) == "fails"
    assert verdict(float("nan")) == "undetermined"
    f = KL_MATCH_FACTOR
    assert kl_match(1 / f, f) == "comparable"
    assert kl_match(0.2, 0.9) == "weaker" and kl_match(1.1, 5.0) == "stronger"
    assert kl_match(0.3, 3.0) == "not shown comparable"
    assert kl_match(float("nan"), 1.0) == "undetermined"


# --------------------------------------------------------------------------- the scorecard


def lines_of(b: TrialRecords) -> list[Any]:
    return scorecard_lines(analyse(RunFrame(b.frame())))


def test_scorecard_says_a_run_whose_injections_do_nothing_licenses_nothing() -> None:
    b = TrialRecords()
    add_steering(b, lift=dict.fromkeys(CONTROLS, 0.0), kl=dict.fromkeys(CONTROLS, 0.0))
    add_detection(b)
    lines = lines_of(b)
    assert lines[0].step == 0 and lines[0].name == scorecard.LINE
    assert lines[0].available and lines[0].unit == "concepts" and lines[0].n == len(CONCEPTS)
    assert lines[0].config == "layer 10, strength 4"
    assert "licenses nothing" in lines[0].sentence
    later = [ln for ln in lines if ln.step != 0]
    assert any(ln.available for ln in later)
    for ln in later:
        if ln.available:
            assert ln.sentence.startswith(scorecard.LICENSES_NOTHING), ln
        else:  # a line that claims nothing is left alone
            assert ln.sentence.startswith(("Not run", "Not available")), ln


def test_scorecard_of_a_working_injection_licenses_the_later_lines() -> None:
    b = TrialRecords()
    add_steering(b, lift={**dict.fromkeys(CONTROLS, 0.0), "concept": 2.0}, kl=FLAT_KL, noise=0.3)
    add_detection(b)
    lines = lines_of(b)
    assert lines[0].step == 0 and lines[0].estimate == pytest.approx(2.0, abs=0.3)
    assert lines[0].ci_low > 0 and "steers the model toward its own word" in lines[0].sentence
    assert not any("licenses nothing" in ln.sentence for ln in lines)


def test_step_0_not_run_and_undetermined_do_not_gate() -> None:
    b = TrialRecords()
    add_detection(b)
    lines = lines_of(b)
    assert lines[0].step == 0 and not lines[0].available
    assert "no steering-check trials" in lines[0].sentence
    assert not any(ln.sentence.startswith(scorecard.LICENSES_NOTHING) for ln in lines)
    # one concept: no interval, "undetermined", no gate
    b = TrialRecords()
    add_steering(b, lift={"concept": 0.0, "random": 0.0}, kl=FLAT_KL, concepts=CONCEPTS[:1])
    add_detection(b)
    lines = lines_of(b)
    assert "undetermined" in lines[0].sentence
    assert not any(ln.sentence.startswith(scorecard.LICENSES_NOTHING) for ln in lines)


def test_step_0_without_a_selection_counts_passing_configurations() -> None:
    b = TrialRecords()
    add_steering(b, lift={"concept": 0.0, "random": 0.0}, kl=FLAT_KL)
    add_steering(b, lift={"concept": 0.0, "random": 0.0}, kl=FLAT_KL, strength=8)
    lines = lines_of(b)
    assert lines[0].unit == "configurations" and lines[0].n == 2 and lines[0].estimate == 0
    assert "licenses nothing" in lines[0].sentence
    b = TrialRecords()
    add_steering(b, lift={"concept": 0.0, "random": 0.0}, kl=FLAT_KL)
    add_steering(b, lift={"concept": 2.0, "random": 0.0}, kl=FLAT_KL, noise=0.2, strength=8)
    lines = lines_of(b)
    assert lines[0].estimate == 0.5 and "somewhere in the grid" in lines[0].sentence


def test_step_4_says_how_the_controls_kl_compares() -> None:
    b = TrialRecords()
    kl = {"concept": 1.0, "random": 0.05, "negated": 1.0, "other": 1.0, "matched_random": 1.0}
    add_steering(b, lift={**dict.fromkeys(CONTROLS, 0.0), "concept": 2.0}, kl=kl, noise=0.3)
    add_detection(b)
    step4 = {ln.name: ln for ln in lines_of(b) if ln.step == 4}
    random_line = step4["concept - random vector (paired by concept)"]
    assert "KL from no injection is 0.05 nats against the concept vector's 1.00" in (
        random_line.sentence
    )
    assert "a weaker perturbation than the concept vector" in random_line.sentence
    # controls without detection trials: not run, with their own names
    assert not step4["concept - other-concept vector (paired by concept)"].available
    # no steering trials at all: the clause says the match is assumed, not shown
    assert "assumed, not shown" in scorecard.kl_clause(pd.DataFrame(), 10, 4.0, "random")


def test_control_effects_table_puts_kl_next_to_detection() -> None:
    b = TrialRecords()
    kl = {"concept": 1.0, "random": 0.05, "negated": 1.0, "other": 1.0, "matched_random": 1.0}
    add_steering(b, lift=dict.fromkeys(CONTROLS, 0.0), kl=kl)
    add_detection(b)
    res = analyse(RunFrame(b.frame()))
    t = res.tables["detection"]["control_effects"].set_index("control")
    assert list(t.index) == ["concept", "random"]
    assert set(t["source"]) == {"text"}
    assert t.loc["concept", "effect"] == pytest.approx(0.5)  # half claim, no false positives
    assert t.loc["random", "kl"] == pytest.approx(0.05)
    assert t.loc["random", "kl_match"] == "weaker"
    det = res.tables["detection"]["detection"]
    assert (
        t.loc["random", "effect_ci_low"]
        == det[det["control"] == "random"].iloc[0]["net_affirmative_ci_low"]
    )


def test_a_gate_covers_later_steps_of_its_own_part_only() -> None:
    gate = Gate(0, "injected thoughts", "[X]")
    parts = {0: "injected thoughts", 4: "injected thoughts", 101: "metacognition"}
    line = Headline("a", 0.1, 0.0, 0.2, 5, "Sentence.", step=4)
    assert gated(line, [gate], parts).sentence == "[X] Sentence."
    other_part = Headline("b", 0.1, 0.0, 0.2, 5, "Sentence.", step=101)
    assert gated(other_part, [gate], parts).sentence == "Sentence."
    same_step = Headline("c", 0.1, 0.0, 0.2, 5, "Sentence.", step=0)
    assert gated(same_step, [gate], parts).sentence == "Sentence."
