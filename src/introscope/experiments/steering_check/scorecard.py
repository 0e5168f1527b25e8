"""Scorecard step 0 (the positive control), the gate it puts on every later step, and the
KL clause of step 4's sentences.

Step 0 reads the steering check at the configuration the scorecard selects for its later
steps. When the concept vector does not raise its word's log-probability more than a random
vector there, the run's injections are not shown to do anything, so the run licenses
nothing: :func:`gate` returns the words every later line then starts with.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from introscope.experiments.base import ScoreInputs, Selection
from introscope.experiments.steering_check.analysis import KL_MATCH_FACTOR
from introscope.headlines import Headline, cfg_text, ci_or_none, headline_from_row, not_run
from introscope.tables import Tables, row_at, to_float

STEP = 0
STEP_TITLE = "positive control: the injections steer the model"
LINE = "steering check (concept − random log-prob of the concept word)"
LICENSES_NOTHING = (
    "[The run licenses nothing: the positive control (step 0) failed, so its injections are "
    "not shown to act on the model.]"
)


def _at_selection(t: Tables, sel: Selection | None) -> tuple[pd.Series | None, str]:
    """The steering-check row at the selected configuration (None, with why, when there is
    none)."""
    table = t["steering_check"]
    if len(table) == 0:
        return None, "the run has no steering-check trials"
    if sel is None or sel.layer is None or sel.strength is None:
        return None, "no configuration was selected"
    row = row_at(table, sel.layer, sel.strength)
    if row is None:
        return None, (
            f"the steering check has no trials at the selected configuration "
            f"({cfg_text(sel.layer, sel.strength)})"
        )
    return row, ""


def _lift(row: pd.Series, col: str) -> str:
    return ci_or_none(row[col], row[f"{col}_ci_low"], row[f"{col}_ci_high"])


VERDICT_TEXT = {
    "passes": "the concept vector steers the model toward its own word here, more than a "
    "random vector of the same norm: the later lines test an injection that acts.",
    "fails": "the concept vector does not steer the model toward its word more than a random "
    "vector here, so this run licenses nothing: no later line can be read as evidence about "
    "the injected concept.",
    "undetermined": "undetermined (no interval: too few concepts), so the later lines are not "
    "shown to test an injection that acts.",
}


def scorecard(s: ScoreInputs) -> list[Headline]:
    """Step 0: the steering check at the selected configuration (or, without one, how many
    configurations pass)."""
    row, why = _at_selection(s.tables, s.selection)
    if row is None:
        table = s.tables["steering_check"]
        if len(table) and s.selection is None:
            return [summary_line(table)]
        return [
            not_run(
                STEP,
                LINE,
                f"{why}, so the later lines assume, without showing it, that the injections "
                "act on the model.",
            )
        ]
    cfg = cfg_text(row["layer"], row["strength"])
    return [
        headline_from_row(
            LINE,
            row,
            "concept_minus_random",
            f"At {cfg} (the configuration the later steps read), on a neutral prompt the "
            "concept vector changes the log-probability that the answer starts with the "
            f"concept word by {_lift(row, 'concept_lift')} nats over no injection, a "
            f"norm-matched random vector by {_lift(row, 'random_lift')}; concept minus "
            f"random, paired per concept: {_lift(row, 'concept_minus_random')}: "
            + VERDICT_TEXT[str(row["verdict"])],
            unit="concepts",
            kind="shift",
            config=cfg,
            step=STEP,
        )
    ]


def summary_line(table: pd.DataFrame) -> Headline:
    """Without a selected configuration: the share of layer x strength configurations at
    which the check passes."""
    k = int((table["verdict"] == "passes").sum())
    n = len(table)
    n_concepts = int(table["concept_minus_random_n"].max())
    verdict = (
        "the injections steer the model somewhere in the grid."
        if k
        else "the injections are not shown to steer the model at any configuration, so this "
        "run licenses nothing."
    )
    return Headline(
        LINE,
        k / n,
        float("nan"),
        float("nan"),
        n,
        f"No configuration was selected for later steps (the run has no detection trials). "
        f"The concept vector raises its word's log-probability on a neutral prompt more than "
        f"a norm-matched random vector (t interval over {n_concepts} concepts above 0) at "
        f"{k} of {n} layer x strength configurations: " + verdict,
        unit="configurations",
        kind="rate",
        step=STEP,
    )


def gate(s: ScoreInputs) -> str | None:
    """The words every later scorecard line starts with when the positive control failed (at
    the selected configuration, or at every configuration without one); None otherwise."""
    row, _ = _at_selection(s.tables, s.selection)
    if row is not None:
        return LICENSES_NOTHING if row["verdict"] == "fails" else None
    table = s.tables["steering_check"]
    if len(table) and s.selection is None and (table["verdict"] == "fails").all():
        return LICENSES_NOTHING
    return None


# --------------------------------------------------------------------------- step 4's KL clause

MATCH_TEXT = {
    "comparable": f"comparable to the concept vector's (within a factor of {KL_MATCH_FACTOR:g}), "
    "so the two perturbations are matched in size",
    "weaker": "a weaker perturbation than the concept vector, so a smaller detection effect "
    "here may reflect its size rather than its content",
    "stronger": "a stronger perturbation than the concept vector",
    "not shown comparable": "not shown comparable to the concept vector's (the interval "
    f"reaches beyond a factor of {KL_MATCH_FACTOR:g})",
    "undetermined": "undetermined against the concept vector's (no interval)",
}


def kl_clause(kl: pd.DataFrame | None, layer: Any, strength: Any, control: str) -> str:
    """One sentence for a control's step-4 line: its functional effect (KL on the neutral
    prompt) next to the concept vector's at the same configuration, or why it is missing."""
    if kl is None or len(kl) == 0:
        return (
            " Its functional effect (KL on a neutral prompt) was not measured: the run has no "
            "steering-check trials, so 'matched perturbation' is assumed, not shown."
        )
    row = row_at(kl, layer, strength, control=control)
    ref = row_at(kl, layer, strength, control="concept")
    if row is None or ref is None:
        return (
            " Its functional effect (KL on a neutral prompt) was not measured at this "
            "configuration (no steering-check trials there), so 'matched perturbation' is "
            "assumed, not shown."
        )
    ratio = ci_or_none(
        row["kl_ratio"], row["kl_ratio_ci_low"], row["kl_ratio_ci_high"], signed=False
    )
    return (
        f" On a neutral prompt its KL from no injection is {to_float(row['kl']):.2f} nats "
        f"against the concept vector's {to_float(ref['kl']):.2f} (ratio {ratio}, "
        f"n={int(to_float(row['kl_ratio_n']))} concepts): " + MATCH_TEXT[str(row["kl_match"])] + "."
    )
