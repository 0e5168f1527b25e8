"""Thoughts-vs-text tables and headline row.

The tables come from the run's ``thoughts_vs_text`` trials (rules grades ``identified`` and
``exact_match``; the readout's ``candidate_rank``, ``candidate_rank_per_token``,
``n_candidates`` and ``candidates``). Column conventions are those of
:mod:`introscope.tables`.

The baseline for identification is the no-injection control, not the nominal chance of
1 / n_candidates: without injection the model already prefers some candidate words (short,
frequent, or related to the sentence), so the target's no-injection rate can sit far from
a tenth. Since protocol 2 a concept's injected and control trials on a sentence rank the
same candidates, so the difference is paired per concept: each concept's identification
rate under injection minus its rate without, with a t interval over concepts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from introscope.experiments.selection import choose, declared_config, selection_frame, split_seed
from introscope.experiments.thoughts_vs_text.held_out import (
    concept_table,
    held_out_estimates,
    held_out_line,
)
from introscope.headlines import Headline, ci_sign, ci_text, headline_from_row, pct
from introscope.stats import paired_mean_ci
from introscope.tables import (
    Record,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    by_config,
    cond,
    frame,
    grade_value,
    group,
    number,
    put_diff,
    put_no_diff,
    put_rate,
    put_vs_chance,
    sort_key,
)

KIND = "thoughts_vs_text"
#: Chance level when no trial records its number of candidates (the solver offers 10).
DEFAULT_CHANCE = 0.1
INJECTED_ORDER: tuple[str, ...] = ("concept", "random", "negated")

Identify = Callable[[Record], bool | None]


def identified(r: Record) -> bool | None:
    """The injected word ranks first among the candidates by summed log-probability: the
    rules grade ``identified``, else ``candidate_rank == 1`` from the readout; None when
    neither is there."""
    v = grade_value(r["grades"], "identified")
    if v is not None:
        return v
    rk = number(r["logits"].get("candidate_rank"))
    return None if rk is None else rk == 1


def identified_per_token(r: Record) -> bool | None:
    """The injected word ranks first by mean log-probability per token (None in runs made
    before protocol 2, which did not record it)."""
    rk = number(r["logits"].get("candidate_rank_per_token"))
    return None if rk is None else rk == 1


def concept_rate(trials: Sequence[Record], ident: Identify) -> float | None:
    vals = [v for v in (ident(t) for t in trials) if v is not None]
    return float(np.mean(vals)) if vals else None


def vs_control(
    injected: Sequence[Record],
    controls: Sequence[Record],
    ident: Identify,
    same_config: bool,
) -> list[float]:
    """Per concept: its identification rate under injection minus its rate on its own
    no-injection trials (at the same layer and strength when ``same_config`` and the
    controls carry them, else all of the concept's controls)."""
    ctrl = group(controls, lambda r: (cond(r, "concept"),))
    diffs = []
    for (concept,), trials in group(injected, lambda r: (cond(r, "concept"),)).items():
        mine = ctrl.get((concept,), [])
        if same_config and trials:
            layer, strength = (
                as_layer(cond(trials[0], "layer")),
                as_strength(cond(trials[0], "strength")),
            )
            at = [
                c
                for c in mine
                if as_layer(cond(c, "layer")) == layer
                and as_strength(cond(c, "strength")) == strength
            ]
            mine = at or mine
        a, b = concept_rate(trials, ident), concept_rate(mine, ident)
        if a is not None and b is not None:
            diffs.append(a - b)
    return diffs


def shared_candidates(injected: Sequence[Record], controls: Sequence[Record]) -> bool | None:
    """Every injected trial ranked the same candidates as the control trials of its concept
    and sentence (None when the readouts do not record the candidates: runs made before
    protocol 2, whose arms drew their own)."""
    ctrl: dict[tuple[object, object], set[tuple[str, ...]]] = {}
    for c in controls:
        cands = c["logits"].get("candidates")
        if not isinstance(cands, list):
            return None
        ctrl.setdefault((cond(c, "concept"), cond(c, "sentence_id")), set()).add(tuple(cands))
    for t in injected:
        cands = t["logits"].get("candidates")
        if not isinstance(cands, list):
            return None
        if ctrl.get((cond(t, "concept"), cond(t, "sentence_id"))) != {tuple(cands)}:
            return False
    return True if injected else None


def put_vs_control(
    out: dict[str, object],
    injected: Sequence[Record],
    controls: Sequence[Record],
    same_config: bool,
) -> None:
    """``identification_vs_control`` (summed log-probabilities) and
    ``identification_per_token_vs_control``: paired per concept, t CI over concepts."""
    for name, ident in (
        ("identification_vs_control", identified),
        ("identification_per_token_vs_control", identified_per_token),
    ):
        put_diff(out, name, paired_mean_ci(vs_control(injected, controls, ident, same_config)))


def thoughts_vs_text_table(run: RunFrame) -> pd.DataFrame:
    """Thoughts vs. text, by layer x strength x control.

    ``identification`` (the injected word ranks first among the candidates by summed
    log-probability; from the rules grade ``identified``, else ``candidate_rank == 1``),
    ``chance`` (1 / n_candidates, 0.1 by default) and ``identification_vs_chance`` (for
    reference only), ``identification_vs_control`` (per concept, minus its no-injection
    rate on the same sentences and candidates; t CI over concepts, ``_n`` = concepts),
    ``exact_match`` (the sentence was transcribed exactly), ``both`` (identified and
    transcribed exactly on the same trial), ``identification_per_token`` and
    ``identification_per_token_vs_control`` (the same ranked by mean log-probability per
    token) and ``shared_candidates`` (the arms ranked the same candidates; empty for runs
    that do not record them).
    """
    recs = run.records(KIND)
    if not recs:
        return pd.DataFrame()
    controls = [r for r in recs if cond(r, "control") == "none"]
    rows = []
    for out, trials in by_config(recs):
        control = out["control"]
        ident = [identified(t) for t in trials]
        put_rate(out, "identification", ident)
        ncs = [number(t["logits"].get("n_candidates")) for t in trials]
        ncs_v = [n for n in ncs if n]
        chance = float(np.mean([1.0 / n for n in ncs_v])) if ncs_v else DEFAULT_CHANCE
        out["chance"] = chance
        put_vs_chance(out, "identification_vs_chance", "identification", chance)
        exact = [grade_value(t["grades"], "exact_match") for t in trials]
        put_rate(out, "exact_match", exact)
        put_rate(
            out,
            "both",
            (
                a and b if a is not None and b is not None else None
                for a, b in zip(ident, exact, strict=True)
            ),
        )
        put_rate(out, "identification_per_token", (identified_per_token(t) for t in trials))
        if control == "none":
            put_no_diff(out, "identification_vs_control")
            put_no_diff(out, "identification_per_token_vs_control")
            out["shared_candidates"] = None
        else:
            put_vs_control(out, trials, controls, same_config=True)
            out["shared_candidates"] = shared_candidates(trials, controls)
        rows.append(out)
    return frame(rows)  # already in config_order: by_config sorts the groups


def vs_control_table(run: RunFrame) -> pd.DataFrame:
    """Per injected control, pooled over every configuration run (none selected): each
    concept's identification rate under injection minus its no-injection rate, by summed
    and by per-token log-probability (t CI over concepts), the two rates themselves,
    ``exact_match`` under injection, ``configurations`` and ``shared_candidates``."""
    recs = run.records(KIND)
    controls = [r for r in recs if cond(r, "control") == "none"]
    injected = group(
        [r for r in recs if cond(r, "control") != "none"], lambda r: (cond(r, "control"),)
    )
    rows = []
    for (control,), trials in sorted(
        injected.items(), key=lambda kv: sort_key(kv[0][0], INJECTED_ORDER)
    ):
        configs = {(cond(r, "layer"), cond(r, "strength")) for r in trials}
        out: dict[str, object] = {"control": control, "configurations": len(configs)}
        put_rate(out, "identification", (identified(t) for t in trials))
        put_rate(out, "identification_control", (identified(t) for t in controls))
        # Pooled: each concept's rates over all its configurations and all its controls.
        put_vs_control(out, trials, controls, same_config=False)
        put_rate(out, "exact_match", (grade_value(t["grades"], "exact_match") for t in trials))
        out["shared_candidates"] = shared_candidates(trials, controls)
        rows.append(out)
    return frame(rows)


KEYS = ("layer", "strength")


def tables(run: RunFrame, _upstream: Mapping[str, Tables]) -> Tables:
    """``thoughts_vs_text`` (per configuration), ``vs_control`` (per injected control, pooled
    over the configurations), ``thoughts_vs_text_concepts`` (per concept), the ``selection``
    of the configuration the second headline reads and ``held_out`` (the estimates there, on
    the held-out concepts)."""
    per = concept_table(run, identified, DEFAULT_CHANCE)
    choice = None
    if len(per):
        competing = per[per["control"] == "concept"]
        choice = choose(
            competing,
            KEYS,
            "identification",
            declared=declared_config(run, KIND, KEYS),
            seed=split_seed(run, KIND),
        )
    return {
        "thoughts_vs_text": thoughts_vs_text_table(run),
        "vs_control": vs_control_table(run),
        "thoughts_vs_text_concepts": per,
        "selection": selection_frame(choice),
        "held_out": held_out_estimates(per, choice, DEFAULT_CHANCE),
    }


def headlines(t: Tables, _upstream: Mapping[str, Tables]) -> list[Headline]:
    """Identification of the injected concept minus the no-injection control, pooled over
    the concept-injection configurations (none selected), paired per concept; then the same
    at the configuration declared in the spec or chosen on half the concepts (estimated on
    the other half)."""
    vc = t["vs_control"]
    at = vc[vc["control"] == "concept"] if len(vc) else vc
    if len(at) == 0:
        return []
    row = at.iloc[0]
    n = int(row["identification_vs_control_n"])
    ci = ci_text(
        row["identification_vs_control"],
        row["identification_vs_control_ci_low"],
        row["identification_vs_control_ci_high"],
    )
    pt = ci_text(
        row["identification_per_token_vs_control"],
        row["identification_per_token_vs_control_ci_low"],
        row["identification_per_token_vs_control_ci_high"],
    )
    side = ci_sign(
        row["identification_vs_control_ci_low"], row["identification_vs_control_ci_high"]
    )
    if np.isnan(float(row["identification_vs_control_ci_low"])):
        what = "undetermined (fewer than two concepts with both arms)."
    elif side > 0:
        what = "the injection makes its concept the candidate the model's reply scores highest."
    elif side < 0:
        what = "the injected concept is picked *less* often than without injection."
    else:
        what = "no difference from the no-injection control is distinguishable."
    shared = row["shared_candidates"]
    caveat = (
        ""
        if isinstance(shared, (bool, np.bool_)) and bool(shared)
        else " This run predates shared candidate sets (each trial drew its own), so the "
        "difference also carries the difference between candidate sets."
    )
    configs = int(row["configurations"])
    sentence = (
        f"Pooled over the {configs} concept-injection configuration"
        f"{'s' if configs != 1 else ''} run (none selected), the injected word is the "
        f"candidate picked in {pct(row['identification'])} of trials against "
        f"{pct(row['identification_control'])} without injection on the same sentences and "
        f"candidates: {ci} (paired per concept, n = {n} concepts; by mean log-probability "
        f"per token {pt}): {what} The sentence is still transcribed exactly in "
        f"{pct(row['exact_match'])} of injected trials.{caveat}"
    )
    return [
        headline_from_row(
            "thoughts vs text: identification vs no injection",
            row,
            "identification_vs_control",
            sentence,
            unit="concepts",
            kind="rate_difference",
        ),
        *held_out_line(t),
    ]
