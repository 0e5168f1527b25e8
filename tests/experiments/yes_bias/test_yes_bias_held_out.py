"""Step 3 at the configuration the detection slice chose (constructed runs, no model): when
it was chosen on half the concepts, every step-3 estimate uses the other half only (the
detection slice's split, not a new one) and says so; when the spec declared it, every
concept is used; when the yes-bias grid lacks it, the grid's configuration is chosen on the
same chosen-on concepts and estimated on the others."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from yes_bias_builders import CONFIG, Design, add_run

from introscope.experiments.base import ScoreInputs
from introscope.experiments.selection import Choice, concept_list, selection_frame, split_concepts
from introscope.experiments.yes_bias.analysis import headlines, tables
from introscope.experiments.yes_bias.held_out import held_row
from introscope.experiments.yes_bias.params import PROTOCOL
from introscope.experiments.yes_bias.questions import selected
from introscope.experiments.yes_bias.scorecard import LOGIT_NAME, TEXT_NAME, scorecard
from introscope.headlines import Headline
from introscope.stats import mover_difference, rate_difference
from introscope.tables import RunFrame, Tables
from support import TrialRecords

KEYS = ("layer", "strength")
SEED = 7
CONCEPTS = Design(n_concepts=20).concepts()
CHOSEN_ON, ESTIMATED_ON = split_concepts(CONCEPTS, SEED)


def logit_run() -> RunFrame:
    """20 concepts at layer 10 (a detection signal beyond the push) and at layer 20."""
    d = Design(n_concepts=20, extra=1.0)
    b = add_run(TrialRecords(), d)
    add_run(b, replace(d, config=(20, 4.0, "concept"), extra=0.0, seed=1))
    return b.run()


def held_out(config: tuple[Any, ...] = CONFIG[:2]) -> Choice:
    return Choice(KEYS, config, "held out", 2, SEED, CHOSEN_ON, ESTIMATED_ON)


def declared() -> Choice:
    return Choice(KEYS, CONFIG[:2], "declared", 2, SEED, (), tuple(CONCEPTS))


def with_selection(
    run: RunFrame, choice: Choice, source: str = "logits", held: pd.DataFrame | None = None
) -> Tables:
    detection = {
        "detection": pd.DataFrame(),
        "selection": selection_frame(choice, source=source),
        "held_out": pd.DataFrame() if held is None else held,
    }
    return tables(run, {"detection": detection})


def step3(t: Tables) -> list[Headline]:
    return scorecard(ScoreInputs(t, {}, None))


def concept_mean(t: Tables, concepts: tuple[str, ...] | list[str]) -> float:
    c = t["yes_bias_concepts"]
    at = c[(c["layer"] == 10) & (c["strength"] == 4.0) & (c["control"] == "concept")]
    return float(at[at["concept"].isin(list(concepts))]["bias_corrected"].mean())


def test_held_out_selection_estimates_on_the_other_concepts_only() -> None:
    assert len(CHOSEN_ON) == len(ESTIMATED_ON) == 10
    assert not set(CHOSEN_ON) & set(ESTIMATED_ON)
    t = with_selection(logit_run(), held_out())
    row = held_row(t, "logits")
    assert row is not None and row["reused"] and row["how"] == "held out"
    used = concept_list(row["estimated_on"])
    assert used == ESTIMATED_ON and not set(used) & set(CHOSEN_ON)
    assert concept_list(row["chosen_on"]) == CHOSEN_ON  # the detection slice's split
    assert row["n_concepts"] == row["bias_corrected_detection_n"] == 10
    # 10 concepts x (1 detection + 12 control questions) injected trials
    assert row["n_trials"] == 130
    assert np.isclose(row["bias_corrected_detection"], concept_mean(t, ESTIMATED_ON))
    assert not np.isclose(row["bias_corrected_detection"], concept_mean(t, CONCEPTS))
    (line,) = step3(t)
    assert line.name == LOGIT_NAME and line.n == 10 and line.unit == "concepts"
    assert line.config == "layer 10, strength 4"
    assert (
        "At layer 10, strength 4 (the configuration selected on other concepts, estimated on "
        "10 held-out concepts)" in line.sentence
    )
    assert "over 10 concepts" in line.sentence and "after the fact" not in line.sentence
    (bc, _r) = headlines(t, {})
    assert bc.n == 10 and "estimated on 10 held-out concepts" in bc.sentence


def test_declared_configuration_uses_every_concept() -> None:
    t = with_selection(logit_run(), declared())
    row = held_row(t, "logits")
    assert row is not None and row["how"] == "declared"
    assert concept_list(row["estimated_on"]) == tuple(CONCEPTS)
    assert row["bias_corrected_detection_n"] == 20 and row["n_trials"] == 260
    yb = t["yes_bias"]
    full = yb[(yb["layer"] == 10) & (yb["control"] == "concept")].iloc[0]
    assert np.isclose(row["bias_corrected_detection"], full["bias_corrected_detection"])
    (line,) = step3(t)
    assert line.n == 20
    assert "(the declared configuration, estimated on all 20 concepts)" in line.sentence


def test_a_configuration_outside_the_grid_keeps_the_split() -> None:
    t = with_selection(logit_run(), held_out((5, 2.0)))
    row = held_row(t, "logits")
    assert row is not None and not row["reused"] and row["how"] == "held out"
    assert concept_list(row["chosen_on"]) == CHOSEN_ON
    assert concept_list(row["estimated_on"]) == ESTIMATED_ON
    assert (row["layer"], row["strength"]) == (10, 4.0)  # the larger detection shift
    (line,) = step3(t)
    assert line.n == 10
    assert (
        "(the configuration selected above is not in this grid; this one has the largest "
        "detection shift of 2 on 10 concepts and is estimated on 10 other, held-out concepts)"
    ) in line.sentence


# --------------------------------------------------------------------------- generation


def gen_cond(q: Any, concept: str | None) -> dict[str, Any]:
    layer, strength, control = CONFIG if concept is not None else (None, None, "none")
    return {
        "question_id": q.question_id,
        "answer": q.answer,
        "topic": q.topic,
        "protocol": PROTOCOL,
        "concept": concept,
        "layer": layer,
        "strength": strength,
        "control": control,
    }


def test_generation_line_uses_the_held_out_concepts_and_detection_estimate() -> None:
    """Chosen-on concepts always answer "yes"; of the held-out ones only c05 and c06 do: the
    held-out shift is 8/20 yes (4 questions x 5 concepts) against the baseline's 20/32, which
    the chosen-on concepts would raise."""
    concepts = [f"c{i:02d}" for i in range(10)]
    chosen, rest = tuple(concepts[:5]), tuple(concepts[5:])
    b = TrialRecords()
    for q in selected(1):
        for k in range(8):
            yes = k < 4 if q.answer == "no" else k >= 2
            b.add("yes_bias", gen_cond(q, None), grades={"rules": {"answered_yes": yes}})
        for c in concepts:
            yes = c in chosen or c in ("c05", "c06")
            b.add("yes_bias", gen_cond(q, c), grades={"rules": {"answered_yes": yes}})
    choice = Choice(KEYS, CONFIG[:2], "held out", 3, SEED, chosen, rest)
    held = pd.DataFrame(
        [
            {
                "source": "text",
                "quantity": "net",
                "layer": 10,
                "strength": 4.0,
                "value": 0.5,
                "value_ci_low": 0.3,
                "value_ci_high": 0.7,
                "value_n": 5,
                "value_n_ref": 50,
            }
        ]
    )
    t = with_selection(b.run(), choice, source="text", held=held)
    row = held_row(t, "generation")
    assert row is not None
    assert concept_list(row["estimated_on"]) == rest
    assert row["n_trials"] == 20 and row["answered_yes_n"] == 20
    assert np.isclose(row["yes_bias_shift"], rate_difference(8, 20, 20, 32).estimate)
    assert row["net_affirmative"] == 0.5 and row["net_affirmative_n"] == 5
    est, low, high = mover_difference(
        0.5,
        0.3,
        0.7,
        row["yes_bias_shift"],
        row["yes_bias_shift_ci_low"],
        row["yes_bias_shift_ci_high"],
    )
    assert np.isclose(row["bias_corrected_claims"], est)
    (line,) = step3(t)
    assert line.name == TEXT_NAME and line.unit == "concepts" and line.n == 5
    assert np.isclose(line.ci_low, low) and np.isclose(line.ci_high, high)
    assert "estimated on 5 held-out concepts" in line.sentence
    assert "after the fact" not in line.sentence
    assert "held-out estimate over 5 concepts" in line.sentence
