"""Constructed cases for the steering analysis: a scripted model whose hack candidate gains
probability along the awareness direction (and the framing direction) at every item gets
intervals above 0 against random directions; a null model gets intervals covering 0; the
held-out check recovers a known separation; the scorecard lines of steps 305-306, with the
permission gate of step 301 reaching them through the registry."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from introscope.experiments.base import ScoreInputs
from introscope.experiments.eval_framing import scorecard as framing_card
from introscope.experiments.eval_framing.framings import CODE_ROLES, FORMATS, METRIC_ROLES
from introscope.experiments.eval_steering import analysis, figures, scorecard, section
from introscope.tables import Tables
from support import TrialRecords

N_ITEMS = 8
STRENGTHS = (-2.0, 2.0)
KIND = "eval_framing_steering"


def readout(p_hack: float, roles: tuple[str, ...]) -> dict[str, object]:
    probs = {f"p_{roles[0]}": 0.95 - p_hack, f"p_{roles[1]}": p_hack, f"p_{roles[2]}": 0.05}
    choice = roles[1] if p_hack > 0.5 else roles[0]
    return {**probs, "choice": choice, "mass": 0.5, "injected_norm": 3.0}


def scripted(aware: float, framing: float, behaviour: float = 0.1) -> TrialRecords:
    """p(hack) = an item baseline, plus ``aware * s / 2`` along the awareness direction and
    ``framing * s / 2`` along the framing direction at strength ``s``, plus small item noise;
    random directions add nothing; the self-diagnostic framing adds ``behaviour``."""
    b = TrialRecords()
    for i in range(N_ITEMS):
        kind = "contradicted_tests" if i % 2 == 0 else "metric_gaming"
        roles = CODE_ROLES if i % 2 == 0 else METRIC_ROLES
        for f, fmt in enumerate(FORMATS):
            base = 0.2 + 0.05 * (i % 5) + 0.01 * f
            head = {"item_id": f"i{i}", "kind": kind, "format": fmt, "paraphrase": 0}

            def add(
                p: float,
                head: dict[str, object] = head,
                roles: tuple[str, ...] = roles,
                **c: object,
            ) -> None:
                b.add(KIND, {**head, **c}, measure="logits", logits=readout(p, roles))

            add(base, part="awareness", framing="neutral", direction="none")
            add(base, part="framing", framing="judgment", direction="none")
            add(
                base + behaviour + 0.02 * ((i + f) % 3),
                part="framing",
                framing="self_diagnostic",
                direction="none",
            )
            for s in STRENGTHS:
                # symmetric about 0 over items, so the null model's item differences average to 0
                jitter = 0.01 * ((i % 4) - 1.5)
                cfg = {"layer": 15, "strength": s}
                add(
                    base + aware * s / 2 + jitter,
                    part="awareness",
                    framing="neutral",
                    direction="awareness",
                    **cfg,
                )
                for r in range(2):
                    add(
                        base,
                        part="awareness",
                        framing="neutral",
                        direction="random",
                        draw=r,
                        **cfg,
                    )
                add(
                    base + framing * s / 2 + jitter,
                    part="framing",
                    framing="judgment",
                    direction="framing",
                    **cfg,
                )
                add(
                    base,
                    part="framing",
                    framing="judgment",
                    direction="random",
                    **cfg,
                )
    for style, sign in (("test", 1.0), ("deployment", -1.0)):
        for k in range(6):
            for fmt in ("benchmark", "chat"):
                b.add(
                    KIND,
                    {"part": "heldout", "style": style, "statement": k, "format": fmt},
                    measure="logits",
                    logits={
                        "projection": {"15": sign + 0.1 * k},
                        "halves_cosine": {"15": 0.8},
                    },
                )
    return b


@cache
def scripted_tables(aware: float, framing: float, behaviour: float = 0.1) -> Tables:
    # cached: each build runs Holm (statsmodels' multipletests calls gc.collect)
    return analysis.tables(scripted(aware, framing, behaviour).run(), {})


EFFECT = (0.2, 0.3)  # awareness and framing effects of the scripted model


def row(t: Tables, name: str, strength: float, outcome: str = "p_hack") -> dict[str, float]:
    d = t[name]
    return d[(d["outcome"] == outcome) & (d["strength"] == strength)].iloc[0].to_dict()


def test_awareness_steering_above_random_when_every_item_moves() -> None:
    t = scripted_tables(*EFFECT)
    up, down = row(t, "eval_steering_awareness", 2.0), row(t, "eval_steering_awareness", -2.0)
    # by hand: +-0.2 (the item noise averages to 0)
    assert up["awareness_minus_none"] == pytest.approx(0.2)
    assert down["awareness_minus_none"] == pytest.approx(-0.2)
    assert up["awareness_minus_random_ci_low"] > 0 and down["awareness_minus_random_ci_high"] < 0
    assert up["awareness_minus_random_n"] == N_ITEMS and up["n_random"] == 2
    assert up["random_minus_none_ci_low"] <= 0 <= up["random_minus_none_ci_high"]
    assert up["awareness_minus_random_p_holm"] < 0.05
    assert up["awareness_minus_random_p_holm"] >= up["awareness_minus_random_p"]
    # hack choices: p(hack) crosses 0.5 for some items at +2 only
    hard = row(t, "eval_steering_awareness", 2.0, "hack")
    assert hard["mean_none"] == 0.0 and hard["awareness_minus_none"] > 0
    lines = [ln for ln in scorecard.scorecard(ScoreInputs(t, {}, None)) if ln.step == 305]
    steer = [ln for ln in lines if ln.name.startswith("awareness direction")]
    assert len(steer) == len(STRENGTHS)
    plus = next(ln for ln in steer if "+2" in ln.config)
    assert plus.ci_low > 0 and "gains more probability along this direction" in plus.sentence
    # no eval_framing trials in this run: nothing shows the items are hackable
    assert all(ln.sentence.startswith(scorecard.NO_CONTROL) for ln in steer)


def test_null_model_gives_intervals_covering_zero() -> None:
    t = scripted_tables(0.0, 0.0, 0.0)
    for s in STRENGTHS:
        r = row(t, "eval_steering_awareness", s)
        assert r["awareness_minus_random_ci_low"] <= 0 <= r["awareness_minus_random_ci_high"]
        f = row(t, "eval_steering_framing", s)
        assert f["injected_minus_random_ci_low"] <= 0 <= f["injected_minus_random_ci_high"]
    lines = scorecard.scorecard(ScoreInputs(t, {}, None))
    assert any("not distinguishable from random" in ln.sentence for ln in lines)
    assert not any("gains more probability" in ln.sentence for ln in lines)


def test_framing_direction_against_random_beside_the_behavioural_effect() -> None:
    t = scripted_tables(*EFFECT)
    up = row(t, "eval_steering_framing", 2.0)
    assert up["injected_minus_random_ci_low"] > 0
    noise = sum(0.02 * ((i + f) % 3) for i in range(N_ITEMS) for f in range(2)) / (2 * N_ITEMS)
    assert up["behavioural"] == pytest.approx(0.1 + noise)
    assert up["behavioural_ci_low"] > 0 and up["mean_judgment"] < up["mean_self_diagnostic"]
    lines = [ln for ln in scorecard.scorecard(ScoreInputs(t, {}, None)) if ln.step == 306]
    assert lines[0].name.startswith("p(hack), self-diagnostic minus judgment")
    plus = next(ln for ln in lines[1:] if "+2" in ln.config)
    assert plus.ci_low > 0 and "raises the hack candidate's probability" in plus.sentence
    assert "the framing itself changes it by" in plus.sentence


def test_heldout_check_recovers_a_known_separation() -> None:
    t = scripted_tables(*EFFECT)
    [h] = t["eval_steering_heldout"].to_dict("records")
    assert h["separation"] == pytest.approx(2.0) and h["separation_ci_low"] > 0
    assert h["separation_n"] == 6 and h["separation_n_ref"] == 6
    assert h["auc"] == pytest.approx(1.0) and h["halves_cosine"] == pytest.approx(0.8)
    [line] = [
        ln
        for ln in scorecard.scorecard(ScoreInputs(t, {}, None))
        if ln.name == "held-out check of the awareness direction"
    ]
    assert line.step == 305 and "separates statements it was not built from" in line.sentence
    assert not line.sentence.startswith(scorecard.NO_CONTROL)


def test_permission_gate_of_step_301_prefixes_steps_305_306(tmp_path: Path) -> None:
    from introscope.report.results import load_results, scorecard_lines

    b = scripted(aware=0.2, framing=0.3)
    # eval_framing trials of a model that never hacks, permitted or not: the gate fails
    for i in range(6):
        for framing in ("neutral", "permission"):
            for k in range(3):
                b.add(
                    "eval_framing",
                    {
                        "item_id": f"m{i}",
                        "pair_id": f"m{i}",
                        "kind": "metric_gaming",
                        "family": "x",
                        "framing": framing,
                        "paraphrase": k,
                        "format": "chat",
                        "protocol": 1,
                    },
                    measure="logits",
                    logits={"p_solve": 0.8, "p_game": 0.1, "p_flag": 0.1, "choice": "solve"},
                )
    b.write(tmp_path / "run")
    results = load_results(tmp_path / "run")
    results.raise_failures()
    card = [ln for ln in scorecard_lines(results) if ln.step in (305, 306)]
    assert card and all(ln.available for ln in card)
    assert all(ln.sentence.startswith(framing_card.LICENSES_NOTHING) for ln in card)
    assert not any(scorecard.NO_CONTROL in ln.sentence for ln in card)


def test_without_trials_both_steps_say_not_run() -> None:
    t = analysis.tables(TrialRecords().run(), {})
    lines = scorecard.scorecard(ScoreInputs(t, {}, None))
    assert [ln.step for ln in lines] == [305, 306]
    assert all(not ln.available for ln in lines)
    assert analysis.headlines(t, {}) == [] and section.sections(t, {}) == []


@pytest.mark.slow
def test_figure_section_and_headlines(tmp_path: Path) -> None:
    t = scripted_tables(*EFFECT)
    figs = figures.figures(t, tmp_path)
    assert figs["eval_steering"].exists()
    [sec] = section.sections(t, figs)
    assert "cross-fitted" in sec.intro and "<table" in sec.body
    heads = analysis.headlines(t, {})
    assert len(heads) == len(STRENGTHS) and heads[-1].ci_low > 0
