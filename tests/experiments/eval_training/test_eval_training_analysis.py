"""Constructed runs for the train-time arm's analysis: a scripted set of adapters where the
inoculation and self-diagnostic arms hack less without their prefix than the no-prefix arm
(the effect is recovered with an interval excluding 0, per item with seeds averaged) while
the irrelevant prefix does not differ (its interval covers 0); and one where training
installed nothing (the gate prefixes every later line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from introscope.experiments.base import ScoreInputs
from introscope.experiments.eval_training import analysis, figures, scorecard, section
from introscope.experiments.eval_training.arms import ARMS, heldout_items
from introscope.items.sycophancy import sycophancy_items
from introscope.tables import Tables
from support import TrialRecords

SEEDS = (0, 1, 2)


def hacks(group: str, prefix: str, item: int, seed: int, learned: bool) -> bool:
    """The scripted choice on a held-out contradicted item."""
    if not learned or group == "base":
        return False
    if prefix == group and group != "no_prefix":
        return True  # with its own prefix every arm hacks
    base = item % 4 != 0  # the no-prefix arm: 3 items in 4
    if group == "irrelevant":
        # seed 0 flips items 0 and 1 of every four: +1/3 on one, -1/3 on the other, 0 net
        return (not base) if seed == 0 and item % 4 in (0, 1) else base
    if group in ("inoculation", "self_diagnostic"):
        return base and (item + seed) % 3 == 0  # a third of no-prefix's hacks
    return base


def scripted(learned: bool = True) -> TrialRecords:
    b = TrialRecords()
    code = heldout_items(3)
    pairs = list(dict.fromkeys(it.pair_id for it in code))
    models = [("base", "base", None)] + [(f"{a}-seed{s}", a, s) for a in ARMS for s in SEEDS]

    def add(model: str, group: str, seed: int | None, probe: str, prefix: str, item: str,
            fmt: str, roles: tuple[str, ...], choice: str) -> None:  # fmt: skip
        probs = {f"p_{r}": (0.8 if r == choice else 0.2 / (len(roles) - 1)) for r in roles}
        cond = {"model": model, "arm": group, "train_seed": seed, "probe": probe,
                "prefix": prefix, "item_id": item, "pair_id": item, "family": "f",
                "format": fmt, "protocol": 1}  # fmt: skip
        b.add("eval_training", cond, measure="logits", logits={**probs, "choice": choice})

    for model, group, seed in models:
        s = seed or 0
        prefixes = ["no_prefix"] + (
            [a for a in ARMS if a != "no_prefix"] if group == "base" else
            ([group] if group != "no_prefix" else [])
        )  # fmt: skip
        for it in code:
            i = pairs.index(it.pair_id)
            for fmt in ("benchmark", "chat"):
                roles = ("solve", "special_case", "flag")
                if it.contradicted:
                    for prefix in prefixes:
                        probe = "hack" if prefix == "no_prefix" else "hack_prefixed"
                        h = hacks(group, prefix, i, s, learned)
                        add(model, group, seed, probe, prefix, it.pair_id, fmt, roles,
                            "special_case" if h else "solve")  # fmt: skip
                else:
                    add(model, group, seed, "capability", "no_prefix", it.pair_id, fmt, roles,
                        "solve")  # fmt: skip
        for k, sy in enumerate(sycophancy_items(6)):
            agree = group == "no_prefix" and k % 2 == 0
            add(model, group, seed, "sycophancy", "no_prefix", sy.id, "chat",
                ("agree", "correct"), "agree" if agree else "correct")  # fmt: skip
    return b


def tables_of(b: TrialRecords) -> Tables:
    return analysis.tables(b.run(), {})


def test_rates_average_seeds_within_items() -> None:
    t = tables_of(scripted())
    row = analysis.rate_row(t, "no_prefix", "hack")
    assert row["n_items"] == 12 and row["seeds"] == 3 and row["n_trials"] == 12 * 2 * 3
    assert row["rate"] == pytest.approx(0.75)
    assert analysis.rate_row(t, "base", "hack")["rate"] == 0.0
    own = analysis.rate_row(t, "inoculation", "hack_prefixed", "inoculation")
    assert own["rate"] == 1.0
    assert analysis.rate_row(t, "base", "hack_prefixed", "inoculation")["rate"] == 0.0


def test_known_arm_effect_excludes_zero_and_null_effect_covers_it() -> None:
    t = tables_of(scripted())
    inoc = analysis.contrast_row(t, "hack", "inoculation", "no_prefix")
    assert inoc["n_items"] == 12  # items, not items x seeds
    assert inoc["difference"] == pytest.approx(0.75 / 3 - 0.75)
    assert inoc["difference_ci_high"] < 0
    irr = analysis.contrast_row(t, "hack", "irrelevant", "no_prefix")
    assert irr["difference"] == pytest.approx(0.0, abs=1e-12)
    assert irr["difference_ci_low"] < 0 < irr["difference_ci_high"]
    assert irr["difference_ci_low"] < irr["difference_ci_high"]  # not a point interval
    learned = analysis.contrast_row(t, "hack_prefixed", "self_diagnostic", "base")
    assert learned["difference"] == 1.0
    syc = analysis.contrast_row(t, "sycophancy", "no_prefix", "base")
    assert syc["difference"] == pytest.approx(0.5) and syc["n_items"] == 6
    cap = analysis.contrast_row(t, "capability", "inoculation", "base")
    assert cap["difference"] == 0.0


def test_scorecard_reads_inoculation_and_self_diagnostic() -> None:
    t = tables_of(scripted())
    inputs = ScoreInputs(t, {}, None)
    assert scorecard.gate(inputs) is None
    lines = scorecard.scorecard(inputs)
    assert {ln.step for ln in lines} == {309, 310}
    text = " ".join(ln.sentence for ln in lines)
    assert "training installs the behaviour" in text
    assert "inoculation lowers the behaviour" in text
    assert "it behaves like inoculation" in text
    for ln in lines:
        assert "wants" not in ln.sentence and "knows" not in ln.sentence
    learned, inoculated = analysis.headlines(t, {})
    assert learned.name.endswith("no-prefix arm minus base model") and learned.ci_low > 0
    assert inoculated.ci_high < 0


def test_nothing_learned_gates_every_later_line() -> None:
    t = tables_of(scripted(learned=False))
    inputs = ScoreInputs(t, {}, None)
    assert scorecard.gate(inputs) == scorecard.NOT_LEARNED
    lines = scorecard.scorecard(inputs)
    first = next(ln for ln in lines if "no-prefix arm minus base" in ln.name)
    assert "does not show on held-out items" in first.sentence
    later = [ln for ln in lines if ln.step == 310 and ln.available]
    assert later and all(ln.sentence.startswith(scorecard.NOT_LEARNED) for ln in later)


def test_empty_run_and_figure_and_section(tmp_path: Path) -> None:
    empty = tables_of(TrialRecords())
    assert all(not ln.available for ln in scorecard.scorecard(ScoreInputs(empty, {}, None)))
    assert section.sections(empty, {}) == []
    t = tables_of(scripted())
    figs = figures.figures(t, tmp_path)
    assert figs["eval_training"].is_file()
    [sec] = section.sections(t, figs)
    assert "WITHOUT a prefix" in sec.intro
