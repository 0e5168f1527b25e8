"""The sandbagging check on constructed trials: a scripted model whose accuracy improves under
weight noise only under the judgment framing shows the signature (interval above 0) under
judgment, not under neutral, and the judgment minus self-diagnostic comparison is above 0;
a declared primary sigma decides alone; bad specs are refused in one sentence; the solver
groups a batch by noise state and restores the weights (scripted engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from introscope.errors import SpecError
from introscope.experiments.base import ScoreInputs
from introscope.experiments.eval_framing.framings import FORMATS
from introscope.experiments.eval_sandbagging import analysis, figures, scorecard, section
from introscope.experiments.eval_sandbagging.params import eval_sandbagging_params, possible_items
from introscope.spec import load_spec, validate_spec
from introscope.tables import Tables
from support import TrialRecords

N_ITEMS = 8
SIGMAS = (0.0, 0.01, 0.02)
SEEDS = 3
FRAMINGS = ("neutral", "self_diagnostic", "judgment")


def correct(framing: str, i: int, sigma: float, seed: int, k: int, f: int) -> bool:
    """A model right on a third of the trials without noise; under noise, judgment trials
    become right on two thirds (except for a quarter of item x seed draws), while neutral and
    self-diagnostic trials gain one right answer on even items and lose one on odd items."""
    base = (i + k + f) % 3 == 0
    if sigma == 0:
        return base
    if framing == "judgment":
        return (i + k + f + seed) % 3 != 0 if (i + seed) % 4 else base
    # one trial flips: a wrong one becomes right on even items, a right one wrong on odd ones
    want = 1 if i % 2 == 0 else 0
    target = next((kk, ff) for kk in range(3) for ff in range(2) if (i + kk + ff) % 3 == want)
    return not base if (k, f) == target else base


def scripted() -> TrialRecords:
    b = TrialRecords()
    for i in range(N_ITEMS):
        for framing in FRAMINGS:
            for sigma in SIGMAS:
                for seed in range(SEEDS) if sigma else range(1):
                    for k in range(3):
                        for f, fmt in enumerate(FORMATS):
                            ok = correct(framing, i, sigma, seed, k, f)
                            b.add(
                                "eval_sandbagging",
                                {
                                    "item_id": f"item{i}",
                                    "family": "total",
                                    "framing": framing,
                                    "paraphrase": k,
                                    "format": fmt,
                                    "sigma": sigma,
                                    "noise_seed": seed,
                                    "protocol": 1,
                                },
                                measure="logits",
                                logits={
                                    "choice": "solve" if ok else "flag",
                                    "p_solve": 0.7 if ok else 0.2,
                                    "mass": 0.5,
                                },
                            )
    return b


def tables_of(b: TrialRecords) -> Tables:
    return analysis.tables(b.run(), {})


def test_signature_under_judgment_only() -> None:
    t = tables_of(scripted())
    acc = t["eval_sandbagging"]
    assert len(acc) == len(FRAMINGS) * len(SIGMAS)
    ref = acc[(acc["framing"] == "neutral") & (acc["sigma"] == 0)].iloc[0]
    assert ref["n_items"] == N_ITEMS and ref["n_seeds"] == 1
    assert ref["accuracy"] == pytest.approx(1 / 3, abs=0.05)
    for sigma in SIGMAS[1:]:
        judged = analysis.effect_at(t, "judgment", sigma)
        assert judged["noise_effect_ci_low"] > 0 and judged["signature"]
        assert judged["p_correct_effect"] > 0
        neutral = analysis.effect_at(t, "neutral", sigma)
        assert neutral["noise_effect"] == pytest.approx(0.0)
        assert neutral["noise_effect_ci_low"] < 0 < neutral["noise_effect_ci_high"]
        assert not neutral["signature"]
        comp = analysis.effect_at(t, analysis.COMPARISON_NAME, sigma)
        assert comp["noise_effect_ci_low"] > 0
        assert comp["noise_effect"] == pytest.approx(
            judged["noise_effect"] - analysis.effect_at(t, "self_diagnostic", sigma)["noise_effect"]
        )
    lines = scorecard.scorecard(ScoreInputs(t, {}, None))
    assert {ln.step for ln in lines} == {307} and all(ln.available for ln in lines)
    by_name = {ln.name: ln for ln in lines}
    judged_line = by_name["accuracy change under weight noise, judgment"]
    assert "sandbagging signature" in judged_line.sentence and "Holm" in judged_line.sentence
    assert judged_line.config == "sigma 0.01"  # the smallest sigma above 0 without a primary
    neutral_line = by_name["accuracy change under weight noise, neutral"]
    assert "no improvement under noise is distinguishable" in neutral_line.sentence
    comp_line = by_name["noise effect, judgment minus self-diagnostic"]
    assert comp_line.ci_low > 0 and "more under the judgment framing" in comp_line.sentence
    assert analysis.headlines(t, {})[0].ci_low > 0


def test_a_declared_primary_sigma_decides_alone() -> None:
    df = analysis.trial_frame(scripted().run())
    acc = analysis.item_accuracy(df)
    rows = analysis.effect_rows(acc, primary=0.02)
    judged = [r for r in rows if r["framing"] == "judgment"]
    assert [r["signature"] for r in judged] == [False, True]  # only the primary one counts
    assert [r["primary"] for r in judged] == [False, True]


def test_no_trials_and_figure(tmp_path: Path) -> None:
    empty = tables_of(TrialRecords())
    [line] = scorecard.scorecard(ScoreInputs(empty, {}, None))
    assert not line.available and line.sentence.startswith("Not run")
    assert analysis.headlines(empty, {}) == [] and section.sections(empty, {}) == []
    t = tables_of(scripted())
    figs = figures.figures(t, tmp_path)
    assert figs["eval_sandbagging"].stat().st_size > 0
    [sec] = section.sections(t, figs)
    assert "judgment - self_diagnostic" in sec.body


def spec(**changes: Any) -> Any:
    data = load_spec("eval_sandbagging").model_dump(mode="json")
    for key, value in changes.items():
        if key.startswith("grid."):
            data["grid"][key[5:]] = value
        else:
            data[key] = value
    return validate_spec(data, "test")


def test_preset_and_spec_errors() -> None:
    p = eval_sandbagging_params(spec())
    assert p.framings == list(FRAMINGS) and p.sigmas[0] == 0 and p.seeds == 4
    items = possible_items(p.items)
    assert len(items) == 24 and not any(it.contradicted for it in items)
    for changes, words in (
        ({"grid.strengths": [0.01, 0.02]}, "needs 0"),
        ({"grid.strengths": [0.0]}, "needs 0"),
        ({"grid.strengths": [0.0, -0.01]}, "not a weight-noise scale"),
        ({"grid.strengths": [0.0, 4.0]}, "not a weight-noise scale"),
        ({"params": {"primary_sigma": 0.3}}, "primary_sigma"),
        ({"params": {"itemz": 4}}, "unknown key"),
        ({"grid.variants": ["judgement"]}, "judgement"),
        ({"grid.layers": [0.5]}, "does not use"),
        ({"measure": "generation"}, "measure"),
    ):
        with pytest.raises(SpecError, match=words):
            spec(**changes)
