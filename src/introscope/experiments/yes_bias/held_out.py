"""Step 3 at the configuration the detection slice chose, estimated without the concepts it
was chosen on (:mod:`introscope.experiments.selection`).

The detection slice's ``selection`` table says how its configuration was chosen: declared in
the spec (every concept is then read), or chosen on half the concepts (``chosen_on``). A
bias-corrected estimate at that configuration that also averaged the chosen-on concepts
would inherit the winner's curse the split removed, so the ``yes_bias_held_out`` table
recomputes both readouts on the other concepts only, with the same split:

* ``logits``: the ``yes_bias`` row of the configuration from the injected trials of the
  held-out concepts (:func:`.logodds.row_on_concepts`). When the yes-bias grid lacks the
  configuration, the one with the largest detection shift is chosen on the same chosen-on
  concepts (or, without a split, on a seeded split of this grid's concepts) and estimated on
  the others;
* ``generation``: the yes-bias shift of the held-out concepts' generated answers next to the
  detection slice's held-out net claim rate at the same configuration (its ``held_out``
  row, the number step 2 reports), and their difference (MOVER). Only when detection chose
  on its text trials and that configuration is in the yes-bias grid; otherwise no row (step
  3 then says its generation line was chosen after the fact).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from introscope.experiments.selection import (
    Choice,
    choice_from_table,
    choose,
    concepts_text,
    config_sort,
    held_out_concepts,
    reused_note,
    split_seed,
)
from introscope.experiments.yes_bias.generation import (
    current_generation,
    put_corrected,
    put_shifts,
    question_rows,
)
from introscope.experiments.yes_bias.logodds import row_on_concepts
from introscope.tables import RunFrame, Tables, as_layer, as_strength, cond, config_key, frame

KEYS = ("layer", "strength")


def held_out_table(
    run: RunFrame, logit_concepts: pd.DataFrame, detection: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """One row per readout (``measure``): the ``yes_bias`` / ``yes_bias_generation`` columns
    at the configuration, on the concepts it was not chosen on, with ``how``, ``k``,
    ``seed``, ``reused`` (the detection slice's configuration, or one chosen here because the
    grid lacks it), ``n_estimated_on``, ``estimated_on``, ``chosen_on`` and the ``note`` step
    3's sentences quote."""
    sel = choice_from_table(detection.get("selection"))
    rows = [
        r
        for r in (
            logit_row(run, logit_concepts, sel),
            generation_row(run, sel, detection),
        )
        if r is not None
    ]
    return frame(rows)


def held_row(t: Tables, measure: str) -> pd.Series | None:
    """The ``yes_bias_held_out`` row of ``measure`` ("logits" or "generation"), or None."""
    held = t.get("yes_bias_held_out")
    if held is None or len(held) == 0:
        return None
    rows = held[held["measure"] == measure]
    return rows.iloc[0] if len(rows) else None


def config_of(choice: Choice) -> tuple[int | None, float | None]:
    at = choice.at()
    return as_layer(at["layer"]), as_strength(at["strength"])


def logit_row(run: RunFrame, concepts: pd.DataFrame, sel: Choice | None) -> dict[str, Any] | None:
    conc = concepts[concepts["control"] == "concept"] if len(concepts) else concepts
    if len(conc) == 0:
        return None
    layers, strengths = conc["layer"].map(as_layer), conc["strength"].map(as_strength)
    grid = set(zip(layers, strengths, strict=True))
    reused = sel is not None and config_of(sel) in grid
    choice = sel if reused else None
    if choice is None:
        choice = choose(
            conc,
            KEYS,
            "detection_shift",
            seed=sel.seed if sel is not None else split_seed(run, "yes_bias"),
            chosen_on=sel.chosen_on if sel is not None else None,
        )
    if choice is None:  # no detection shift anywhere: the first configuration, all concepts
        first = sorted(grid, key=config_sort)[0]
        choice = Choice(KEYS, first, "fixed", len(grid), 0, (), ())
    layer, strength = config_of(choice)
    at = conc[(layers == layer) & (strengths == strength)]
    used = held_out_concepts(choice, at["concept"])
    row = row_on_concepts(run, (layer, strength, "concept"), used)
    if row is None:
        return None
    return {"measure": "logits", **row, **columns(choice, used, reused, sel is not None)}


def generation_row(
    run: RunFrame, sel: Choice | None, detection: Mapping[str, pd.DataFrame]
) -> dict[str, Any] | None:
    picked, held = detection.get("selection"), detection.get("held_out")
    if sel is None or picked is None or held is None or len(held) == 0:
        return None
    if str(picked.iloc[0]["source"]) != "text":
        return None
    net = held[(held["source"] == "text") & (held["quantity"] == "net")]
    if len(net) == 0:
        return None
    d = net.iloc[0]
    layer, strength = as_layer(d["layer"]), as_strength(d["strength"])
    if (layer, strength) != config_of(sel):
        return None
    yb, _ = current_generation(run)
    trials = [r for r in yb if config_key(r) == (layer, strength, "concept")]
    used = held_out_concepts(sel, (str(cond(r, "concept")) for r in trials))
    keep = set(used)
    trials = [r for r in trials if str(cond(r, "concept")) in keep]
    if not trials:
        return None
    out: dict[str, Any] = {
        "measure": "generation",
        "layer": layer,
        "strength": strength,
        "control": "concept",
        "n_trials": len(trials),
    }
    put_shifts(out, trials, yb, question_rows(yb))
    for suffix in ("", "_ci_low", "_ci_high", "_n", "_n_ref"):
        out[f"net_affirmative{suffix}"] = d[f"value{suffix}"]
    put_corrected(out)
    out["bias_corrected_claims_n"] = len(used)
    return {**out, **columns(sel, used, True, True)}


def columns(choice: Choice, used: list[str], reused: bool, selected: bool) -> dict[str, Any]:
    """How the configuration was chosen and the concepts the row estimates on."""
    return {
        "how": choice.how,
        "k": choice.k,
        "seed": choice.seed,
        "reused": reused,
        "n_estimated_on": len(used),
        "estimated_on": ", ".join(used),
        "chosen_on": ", ".join(choice.chosen_on),
        "note": note(choice, len(used), reused, selected),
    }


def note(choice: Choice, n: int, reused: bool, selected: bool) -> str:
    """The parenthetical after the configuration in step 3's sentences."""
    if reused:
        return reused_note(choice.how, n, choice.k)
    why = (
        "the configuration selected above is not in this grid"
        if selected
        else "no configuration was selected above"
    )
    if choice.how == "held out":
        return (
            f" ({why}; this one has the largest detection shift of {choice.k} on "
            f"{concepts_text(len(choice.chosen_on))} and is estimated on {n} other, held-out "
            "concepts)"
        )
    return f" ({why}; {reused_note(choice.how, n, choice.k)[2:]}"
