"""Detection and false positives under each wording and injection window of
``grid.variants`` (issue 10 defects 3 and 12), with concepts as the unit, and the step-2
scorecard lines that say whether the claim depends on the wording.

The paper's trials (``default``) carry no ``variant`` in their condition; every other
variant names itself there. The detection slice's original tables read the paper's trials
only (:func:`paper_records`); this module compares the variants at the configurations where
any variant other than the paper's ran.

Per row (measure x variant x layer x strength x control), over the concepts that every
variant at that configuration ran with (so the variants are compared on the same concepts):

* logits: ``detection`` = mean over concepts of the concept's P(yes) (t interval over
  concepts); ``false_positive`` = the variant's no-injection P(yes) (one prompt, no
  injection: a deterministic readout, so it enters the differences as a constant);
  ``net`` = per-concept P(yes) minus it and ``net_logodds`` = the same in log-odds (logit of
  the concept's P(yes) minus logit of the no-injection P(yes)), one-sample t intervals over
  concepts; ``net_vs_default`` = the variant's per-concept log-odds shift minus the paper's,
  paired per concept (t interval). Log-odds, because a wording moves the no-injection
  baseline, and equal pushes give unequal probability shifts at different baselines.
* generation: ``detection`` = mean over concepts of the concept's rate of coherent,
  affirmative answers (t interval); ``false_positive`` = the same on the variant's
  no-injection trials (Wilson); ``net`` = detection minus false_positive (MOVER: the t
  interval and the Wilson interval combined); ``net_vs_default`` = the paired per-concept
  difference in claim rate (t) minus the difference in false-positive rates (Newcombe),
  combined by MOVER. ``net_logodds`` is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.base import Selection
from introscope.experiments.detection.params import VARIANTS, WORDINGS
from introscope.headlines import Headline, ValueKind, cfg_text, ci_or_none, not_run
from introscope.stats import Difference, mover_difference, paired_mean_ci, rate_difference
from introscope.tables import (
    INJECTED_CONTROLS,
    Record,
    RunFrame,
    Tables,
    as_layer,
    as_strength,
    clean,
    cond,
    grade_value,
    group,
    number,
    put_diff,
    put_mean,
    put_no_diff,
    put_rate,
    row_at,
    sort_key,
    to_float,
)

#: How a variant is named in sentences.
LABELS: dict[str, str] = {
    "default": "the paper's wording",
    "internal": "earlier-turn injection (the paper's wording, injection on the "
    "acknowledgement only)",
    "skeptical": "the skeptical preamble (injection on about one trial in five)",
    "uninformed": "a preamble that does not mention injection",
    "persona": "the third-party question (a model named Sam)",
}
SHORT: dict[str, str] = {
    "default": "paper's wording",
    "internal": "earlier-turn injection",
    "skeptical": "skeptical preamble",
    "uninformed": "preamble without injection",
    "persona": "third-party question",
}
#: P(yes) is clipped to [EPS, 1 - EPS] before its logit (a readout of exactly 0 or 1).
EPS = 1e-6


def variant_of(r: Record) -> str:
    """A trial's variant: the condition's ``variant``, or ``default`` (the paper's)."""
    v = cond(r, "variant")
    return v if isinstance(v, str) else "default"


def paper_records(run: RunFrame, measure: str) -> list[Record]:
    """The run's detection trials under the paper's wording and window (``default``)."""
    return [r for r in run.records("detection", measure) if variant_of(r) == "default"]


def logit(p: float) -> float:
    q = min(max(p, EPS), 1.0 - EPS)
    return math.log(q / (1.0 - q))


def concept_means(trials: Iterable[Record], value: Any) -> dict[str, float]:
    """Per concept, the mean of ``value(trial)`` over its trials (None values left out)."""
    vals: dict[str, list[float]] = {}
    for t in trials:
        c, v = cond(t, "concept"), value(t)
        if isinstance(c, str) and v is not None:
            vals.setdefault(c, []).append(float(v))
    return {c: float(np.mean(v)) for c, v in vals.items()}


def p_yes(r: Record) -> float | None:
    return number(r["logits"].get("p_yes"))


def claims(r: Record) -> float | None:
    """1.0 for a coherent, affirmative answer, 0.0 for another graded one, else None."""
    aff = grade_value(r["grades"], "affirmative")
    coh = grade_value(r["grades"], "coherent")
    if aff is None or coh is None:
        return None
    return 1.0 if aff and coh else 0.0


def put_difference(out: dict[str, Any], name: str, d: Difference, n_ref: int) -> None:
    put_diff(out, name, Difference(d.estimate, d.low, d.high, d.n_a, n_ref))


def put_mover(
    out: dict[str, Any], name: str, a: Difference, b_est: float, b_low: float, b_high: float
) -> None:
    """``name`` = a - b by MOVER (a: a t interval over concepts; b: an independent rate or
    rate difference with its own interval)."""
    d, lo, hi = mover_difference(a.estimate, a.low, a.high, b_est, b_low, b_high)
    put_diff(out, name, Difference(d, lo, hi, a.n_a, a.n_b))


def put_clipped(
    out: dict[str, Any], name: str, values: list[float], low: float, high: float
) -> None:
    """A mean with its t interval over concepts, the bounds clipped to [low, high] (a rate's
    t interval can run past 0 or 1 with few concepts)."""
    put_mean(out, name, values)
    for side in ("ci_low", "ci_high"):
        v = to_float(out[f"{name}_{side}"])
        if not math.isnan(v):
            out[f"{name}_{side}"] = min(max(v, low), high)


def put_paired(out: dict[str, Any], name: str, diffs: list[float], bound: float | None) -> None:
    """A paired per-concept difference with its t interval (clipped to +-bound if given)."""
    put_diff(out, name, paired_mean_ci(diffs))
    if bound is not None:
        for side in ("ci_low", "ci_high"):
            v = to_float(out[f"{name}_{side}"])
            if not math.isnan(v):
                out[f"{name}_{side}"] = min(max(v, -bound), bound)


def variants_table(run: RunFrame) -> pd.DataFrame:
    """Detection, false positives and net detection per variant, concepts as the unit (see
    the module docstring); empty unless a variant other than the paper's ran."""
    rows: list[dict[str, Any]] = []
    for measure in ("generation", "logits"):
        recs = run.records("detection", measure)
        by_variant = group(recs, lambda r: (variant_of(r),))
        if set(by_variant) <= {("default",)}:
            continue
        controls = {
            v: [r for r in rs if cond(r, "control") == "none"] for (v,), rs in by_variant.items()
        }
        injected = [r for r in recs if cond(r, "control") in INJECTED_CONTROLS]
        cells = group(
            injected,
            lambda r: (
                as_layer(cond(r, "layer")),
                as_strength(cond(r, "strength")),
                cond(r, "control"),
            ),
        )
        for key in sorted(
            cells,
            key=lambda k: (sort_key(k[0]), sort_key(k[1]), sort_key(k[2], INJECTED_CONTROLS)),
        ):
            layer, strength, control = key
            by_v = group(cells[key], lambda r: (variant_of(r),))
            if set(by_v) <= {("default",)}:
                continue  # the paper's tables already show it
            rows += config_rows(measure, layer, strength, control, by_v, controls)
    return pd.DataFrame(rows)


def config_rows(
    measure: str,
    layer: int | None,
    strength: float | None,
    control: str,
    by_v: Mapping[tuple[Any, ...], list[Record]],
    controls: Mapping[str, list[Record]],
) -> list[dict[str, Any]]:
    value = p_yes if measure == "logits" else claims
    means = {v: concept_means(rs, value) for (v,), rs in by_v.items()}
    shared = set.intersection(*(set(m) for m in means.values()))
    net_by_variant: dict[str, dict[str, float]] = {}
    fp_by_variant: dict[str, list[float]] = {}
    out_rows: list[dict[str, Any]] = []
    for variant in (v for v in VARIANTS if v in means):
        per = {c: x for c, x in means[variant].items() if c in shared}
        ctrl = [x for x in (value(r) for r in controls.get(variant, [])) if x is not None]
        fp_by_variant[variant] = ctrl
        out: dict[str, Any] = {
            "measure": measure,
            "variant": variant,
            "layer": layer,
            "strength": strength,
            "control": control,
            "n_trials": len(by_v[(variant,)]),
            "n_concepts": len(per),
        }
        put_clipped(out, "detection", list(per.values()), 0.0, 1.0)
        if measure == "logits":
            put_mean(out, "false_positive", ctrl)
            if ctrl:
                base = float(np.mean(ctrl))
                shifts = {c: x - base for c, x in per.items()}
                net_by_variant[variant] = {c: logit(x) - logit(base) for c, x in per.items()}
                put_difference(out, "net", paired_mean_ci(list(shifts.values())), len(ctrl))
                put_difference(
                    out,
                    "net_logodds",
                    paired_mean_ci(list(net_by_variant[variant].values())),
                    len(ctrl),
                )
            else:
                put_no_diff(out, "net")
                put_no_diff(out, "net_logodds")
        else:
            put_rate(out, "false_positive", (x == 1.0 for x in ctrl))
            net_by_variant[variant] = per
            put_mover(
                out,
                "net",
                paired_mean_ci(list(per.values())),
                to_float(out["false_positive"]),
                to_float(out["false_positive_ci_low"]),
                to_float(out["false_positive_ci_high"]),
            )
            put_no_diff(out, "net_logodds")
        out_rows.append(out)
    for out in out_rows:
        vs_default(out, measure, net_by_variant, fp_by_variant)
    return out_rows


def vs_default(
    out: dict[str, Any],
    measure: str,
    net: Mapping[str, Mapping[str, float]],
    fp: Mapping[str, Sequence[float]],
) -> None:
    """``net_vs_default``: the variant minus the paper's wording, paired per concept."""
    variant = out["variant"]
    if variant == "default" or variant not in net or "default" not in net:
        put_no_diff(out, "net_vs_default")
        return
    mine, paper = net[variant], net["default"]
    both = sorted(set(mine) & set(paper))
    diffs = paired_mean_ci([mine[c] - paper[c] for c in both])
    if measure == "logits":
        put_difference(out, "net_vs_default", diffs, len(both))
        return
    a, b = fp.get(variant, []), fp.get("default", [])
    fp_diff = rate_difference(
        int(sum(1 for x in a if x == 1.0)), len(a), int(sum(1 for x in b if x == 1.0)), len(b)
    )
    put_mover(out, "net_vs_default", diffs, fp_diff.estimate, fp_diff.low, fp_diff.high)


# --------------------------------------------------------------------------- step 2


def line_config(
    table: pd.DataFrame, sel: Selection | None, variants: Sequence[str]
) -> tuple[Any, Any, str] | None:
    """The (layer, strength) the variant lines read, with a note on why: the configuration
    selected above when ``variants`` ran there with the concept vector, else the first (in
    layer, strength order) of the configurations where most of them ran -- a rule fixed in
    advance, that never looks at the results. None when none of them ran."""
    t = table[(table["control"] == "concept") & table["variant"].isin(list(variants))]
    if len(t) == 0:
        return None
    configs: dict[tuple[Any, Any], set[str]] = {}
    for _, r in t.iterrows():
        configs.setdefault((clean(r["layer"]), clean(r["strength"])), set()).add(r["variant"])
    if sel is not None and (sel.layer, sel.strength) in configs:
        return sel.layer, sel.strength, " (the configuration selected above)"
    most = max(len(v) for v in configs.values())
    first = sorted((k for k, v in configs.items() if len(v) == most), key=lambda k: k)
    if len(configs) == 1:
        return first[0][0], first[0][1], " (the only configuration the variants ran at)"
    return (
        first[0][0],
        first[0][1],
        f" (the first of the {len(configs)} configurations the variants ran at, by layer and "
        "strength: a rule fixed in advance)",
    )


def wording_lines(t: Tables, sel: Selection | None) -> list[Headline]:
    """Step 2: net detection under each variant at one configuration, and whether the claim
    holds under every wording."""
    table = t["variants"]
    name = "net detection across wordings"
    if len(table) == 0:
        return [
            not_run(
                2,
                name,
                "the run has no detection trials under other wordings or windows "
                "(grid.variants: internal, skeptical, uninformed, persona).",
            )
        ]
    measure = "generation" if (table["measure"] == "generation").any() else "logits"
    table = table[table["measure"] == measure]
    picked = line_config(table, sel, VARIANTS)
    if picked is None:
        return [not_run(2, name, "no concept-injection trials under the variants.")]
    layer, strength, note = picked
    col = "net_logodds" if measure == "logits" else "net"
    kind: ValueKind = "logodds" if measure == "logits" else "rate_difference"
    what = (
        "the log-odds of 'yes' shift from the no-injection trials of the same wording by"
        if measure == "logits"
        else "coherent affirmative answers exceed the same wording's no-injection false "
        "positives by"
    )
    cfg = cfg_text(layer, strength)
    lines: dict[str, Headline] = {}
    verdicts: dict[str, int] = {}
    for variant in VARIANTS:
        row = row_at(table, layer, strength, control="concept", variant=variant)
        if row is None:
            continue
        low, high = to_float(row[f"{col}_ci_low"]), to_float(row[f"{col}_ci_high"])
        verdicts[variant] = 0 if math.isnan(low) else (1 if low > 0 else (-1 if high < 0 else 2))
        fp = ci_or_none(
            row["false_positive"],
            row["false_positive_ci_low"],
            row["false_positive_ci_high"],
            signed=False,
        )
        fp_what = "P(yes) without injection" if measure == "logits" else "false positives"
        vs = (
            ""
            if variant == "default" or math.isnan(to_float(row["net_vs_default"]))
            else "; minus the paper's wording, paired per concept: "
            + ci_or_none(
                row["net_vs_default"], row["net_vs_default_ci_low"], row["net_vs_default_ci_high"]
            )
        )
        lines[variant] = Headline(
            f"net detection ({SHORT[variant]})",
            to_float(row[col]),
            low,
            high,
            int(to_float(row["n_concepts"]) or 0),
            f"At {cfg}{note}, under {LABELS[variant]}, {what} "
            f"{ci_or_none(row[col], low, high)} over {int(row['n_concepts'])} concepts "
            f"({fp_what}: {fp}){vs}.",
            unit="concepts",
            kind=kind,
            config=cfg,
            step=2,
        )
    return [*lines.values(), summary_line(name, verdicts, lines, cfg)]


def summary_line(
    name: str, verdicts: Mapping[str, int], lines: Mapping[str, Headline], cfg: str
) -> Headline:
    """The weakest wording's net detection, and which wordings show the claim at all."""
    wordings = [v for v in WORDINGS if v in verdicts]
    least = min(
        wordings,
        key=lambda v: (math.isnan(lines[v].estimate), lines[v].estimate),
        default=None,
    )
    if least is None:
        return not_run(2, name, "only the earlier-turn window ran, under the paper's wording.")
    shown = [SHORT[v] for v in wordings if verdicts[v] == 1]
    not_shown = [SHORT[v] for v in wordings if verdicts[v] in (-1, 2)]
    undetermined = [SHORT[v] for v in wordings if verdicts[v] == 0]
    if len(wordings) < 2:
        verdict = "only one wording ran here, so the claim cannot be compared across wordings."
    elif shown and not not_shown and not undetermined:
        verdict = "net detection is above zero under every wording tested."
    elif len(shown) == 1:
        verdict = (
            f"net detection is above zero only under the {shown[0]}: a claim that appears "
            "under one wording only."
        )
    elif shown:
        verdict = (
            f"net detection is above zero under the {', '.join(shown)} but not under the "
            f"{', '.join(not_shown + undetermined)}: the claim depends on the wording."
        )
    else:
        verdict = "net detection is above zero under none of the wordings tested."
    if undetermined:
        verdict += f" Undetermined (too few concepts): {', '.join(undetermined)}."
    weakest = lines[least]
    return Headline(
        name,
        weakest.estimate,
        weakest.ci_low,
        weakest.ci_high,
        weakest.n,
        f"At {cfg}, the weakest of {len(wordings)} wordings is the {SHORT[least]} "
        f"({ci_or_none(weakest.estimate, weakest.ci_low, weakest.ci_high)}, "
        f"{weakest.n} concepts); " + verdict,
        unit="concepts",
        kind=weakest.kind,
        config=cfg,
        step=2,
    )
