"""Detection's report sections: the selected configuration and the paired contrasts, the
generated answers, the grader agreement, the failure taxonomy, the logit readout and
content specificity."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from introscope.experiments.grader_trust import rules_validation_section
from introscope.experiments.selection import selection_paragraph
from introscope.headlines import cfg_text, ci_or_none, p_text, pct
from introscope.render.html import Section, heading, img, paragraph, table_block
from introscope.render.numbers import fmt_plain
from introscope.render.tables import format_table
from introscope.tables import Tables, to_float

CONCEPT_LEVEL = (
    "The *_by_concept columns take the concept as the unit: each concept's rate over its "
    "trials, averaged over concepts with a t interval over concepts (n = concepts), minus the "
    "no-injection trials (Welch; a deterministic logit readout's control is a constant), "
    "with p-values Holm-adjusted over the configurations (*_p_holm)."
)


def optional(text: str) -> str:
    return paragraph(text) if text else ""


def holm_text(table: pd.DataFrame, col: str, what: str) -> str:
    """Which concept-injection configurations are findings after Holm's adjustment over all
    of them (the report lists several configurations, so it adjusts and says so)."""
    if len(table) == 0 or f"{col}_p_holm" not in table.columns:
        return ""
    conc = table[table["control"] == "concept"]
    tested = conc[conc[f"{col}_p"].notna()]
    if len(tested) == 0:
        return ""
    found = tested[(tested[f"{col}_p_holm"] < 0.05) & (tested[col] > 0)]
    listed = "; ".join(
        f"{cfg_text(r['layer'], r['strength'])} (Holm p = {p_text(r[f'{col}_p_holm'])})"
        for _, r in found.iterrows()
    )
    return (
        f"Configurations where {what} is above no injection at the concept level, Holm-adjusted "
        f"over the {len(tested)} concept-injection configurations tested: "
        + (listed if listed else "none")
        + ". Every estimate here reuses the concepts of the whole run: the headline numbers "
        "are the held-out ones."
    )


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    out: list[Section] = []
    if len(t["detection"]) or len(t["detection_logits"]):
        out.append(selection_section(t))
    if len(t["detection"]):
        out.append(
            Section(
                "Injected-thought detection",
                "detection",
                "Generation trials, rules grader. success = coherent, affirmative, names the "
                "injected concept, noticed before naming; claims_detection = coherent and "
                "affirmative; false_positive = claims_detection on no-injection trials (the "
                "matched control); net_* = rate minus false_positive (Newcombe 95% CI over "
                "trials). " + CONCEPT_LEVEL,
                optional(holm_text(t["detection"], "net_affirmative_by_concept", "the claim rate"))
                + table_block(format_table(t["detection"]), "Detection by configuration")
                + img(figs.get("net_detection_heatmap"), "net detection heatmap")
                + img(figs.get("detection_controls"), "detection controls"),
            )
        )
    if len(t["rules_validation"]):
        out.append(rules_validation_section(t["rules_validation"]))
    if len(t["grader_agreement"]):
        out.append(
            Section(
                "Rules grader vs LLM judge",
                "agreement",
                "Detection trials graded validly by both graders (judge errors excluded).",
                table_block(format_table(t["grader_agreement"]), "Agreement by criterion"),
            )
        )
    if len(t["outcomes"]):
        out.append(
            Section(
                "Failure taxonomy (detection)",
                "outcomes",
                "Outcome counts (share of graded trials) per configuration; ungraded trials "
                "are left out of n.",
                table_block(outcome_pivot(t["outcomes"]), "Outcomes by configuration"),
            )
        )
    if len(t["detection_logits"]):
        out.append(
            Section(
                "Detection from the logits",
                "detection-logits",
                "Mean normalised P(yes) at the answer, its shift against no-injection trials "
                "(each concept's mean P(yes) minus the deterministic no-injection readout, a "
                "constant: one-sample t interval over concepts), and how often the injected "
                "concept ranks first among candidates. " + CONCEPT_LEVEL,
                optional(holm_text(t["detection_logits"], "p_yes_shift_by_concept", "P(yes)"))
                + table_block(
                    format_table(t["detection_logits"]), "Logit readout by configuration"
                ),
            )
        )
    if len(t["identification"]) or len(t["mutual_information"]):
        out.append(content_section(t, figs))
    if len(t["dose_response"]):
        out.append(
            Section(
                "Detection against strength",
                "detection-dose",
                "Per layer and contrast, a logistic in log2(strength) with its bottom at 0 "
                "fitted to every concept's effect: the claim of detection (generation) or "
                "P(yes) (logits) under a vector minus the no-injection mean (X - none), or "
                "the concept vector's minus its norm-matched random vector's at the same "
                "strength (concept - random). emax: the fitted plateau; ec50: the strength at "
                "half of it; hill: slope per doubling; 95% intervals resample concepts "
                "(n = concepts); ec50_in_range false: the EC50 lies outside the tested "
                "strengths. relative_ec50 = ec50 x |v| / |h|, the injection's norm over the "
                "residual stream's at that layer, comparable across layers and models.",
                table_block(format_table(t["dose_response"]), "Dose-response by contrast"),
            )
        )
    if len(t["leakage"]) or len(t["variants"]):
        out.append(controls_section(t))
    if len(t["control_effects"]):
        out.append(
            Section(
                "Detection effect vs functional effect, per control",
                "control-effects",
                "Each injection's detection effect over no injection (net claim rate from the "
                "text, P(yes) shift from the logits) next to its KL divergence from the "
                "no-injection next-token distribution on a neutral prompt (steering check; "
                "mean over concepts, t CI). kl_ratio = the control's KL over the concept "
                "vector's, paired per concept; kl_match says whether the control is a "
                "matched perturbation. A control with a much smaller KL than the concept "
                "vector is a weaker perturbation, so its smaller detection effect says "
                "nothing about content.",
                table_block(format_table(t["control_effects"]), "Detection effect and KL")
                + img(figs.get("control_effects"), "detection effect vs KL"),
            )
        )
    return out


def controls_section(t: Tables) -> Section:
    """Leakage, internality and wordings (issue 10 defects 3 and 12)."""
    return Section(
        "Leakage, internality and wordings",
        "leakage",
        "Leakage control: every concept-vector logits trial is also read in a neutral frame (a "
        "word game that never asks about injected thoughts) under the same injection, over as "
        "many tokens; identification that is only the vector pushing its word shows up in "
        "both frames. frame_difference = detection-frame minus neutral-frame top-1 "
        "identification, lift_difference the same for the concept's log-probability lift "
        "over no injection (nats), both paired per concept with t intervals over concepts. "
        "Variant 'internal' injects only the earlier acknowledgement turn, so the question "
        "and answer see the injection only through attention to earlier positions. The "
        "variants table gives detection and false positives per wording / window: net_logodds "
        "(logits) is the per-concept shift in the log-odds of 'yes' over the same wording's "
        "no-injection trial; net (text) the claim rate over concepts minus false positives "
        "(MOVER); net_vs_default the difference from the paper's wording, paired per concept.",
        table_block(format_table(t["leakage"]), "Identification: detection vs neutral frame")
        + table_block(format_table(t["leakage_mi"]), "Mutual information in each frame")
        + table_block(format_table(t["variants"]), "Detection by wording and window"),
    )


def selection_section(t: Tables) -> Section:
    """How the scorecard's configuration was chosen, every estimate the scorecard reads there
    (on the held-out concepts), and the paired concept - control contrasts per
    configuration."""
    held = t["held_out"]
    shown = held.drop(columns=["note"]) if len(held) else held
    return Section(
        "Selected configuration and paired contrasts",
        "selection",
        "A configuration read after picking the best of several on the same data is biased "
        "upward. The scorecard reads the one the spec declares (primary = {layer, strength}), "
        "or the one with the largest net detection on half the concepts (a seeded split), and "
        "estimates it on the other half only; every later step reuses it. Estimates average "
        "per-concept values with t intervals over concepts; the concept - random and concept - "
        "negated contrasts (and concept - other-concept and concept - matched-random where the "
        "run has those controls) are each concept's difference between its own vector and "
        "the control vector (paired by concept), Holm-adjusted over the configurations in "
        "the contrasts table.",
        selection_paragraph(t["selection"], "The scorecard is")
        + table_block(format_table(shown), "Estimates at the selected configuration")
        + table_block(format_table(t["contrasts"]), "Paired contrasts by configuration"),
    )


def outcome_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration, one column per outcome: ``count (share)``."""
    if len(table) == 0:
        return table
    keys = ["layer", "strength", "control"]
    t = table.copy()
    for k in keys:
        t[k] = t[k].map(fmt_plain)
    t["cell"] = [f"{int(c)} ({f:.0%})" for c, f in zip(t["count"], t["fraction"], strict=True)]
    wide = t.pivot_table(index=keys, columns="outcome", values="cell", aggfunc="first", sort=False)
    wide = wide.fillna("0").reset_index()
    n = t.groupby(keys, sort=False)[["fraction_n", "n_ungraded"]].first().reset_index()
    wide = wide.merge(n, on=keys, how="left").rename(
        columns={"fraction_n": "n graded", "n_ungraded": "n ungraded"}
    )
    wide.columns = [str(c) for c in wide.columns]
    return wide


def confabulation_text(summary: pd.DataFrame) -> str:
    s = summary.iloc[0]
    return (
        f"{s['n_confabulated']} of {s['n_affirmative']} affirmative concept-injection "
        "answers name a concept other than the injected one "
        f"({ci_or_none(s['confabulation_rate'], s['confabulation_rate_ci_low'], s['confabulation_rate_ci_high'], signed=False)}). "
        f"Concrete nouns among the named concepts: "
        f"{ci_or_none(s['concrete_rate'], s['concrete_rate_ci_low'], s['concrete_rate_ci_high'], signed=False)} "
        f"(n={s['concrete_n']}; share among candidate concepts {pct(s['concrete_base_rate'])}). "
        + (
            "Cosine between the named and the injected concept's vectors at the injection "
            f"layer: {ci_or_none(s['cosine'], s['cosine_ci_low'], s['cosine_ci_high'], dec=3)} "
            f"(n={s['cosine_n']}) against {to_float(s['pair_cosine']):+.3f} for all concept "
            f"pairs (difference {ci_or_none(s['cosine_vs_pairs'], s['cosine_vs_pairs_ci_low'], s['cosine_vs_pairs_ci_high'], dec=3)})."
            if bool(s["vectors_available"])
            else "Relatedness not computed: no vectors in the run directory."
        )
    )


def content_section(t: Tables, figs: Mapping[str, Path]) -> Section:
    return Section(
        "Content specificity",
        "content",
        "Does the detection report say which concept was injected? Identification: the "
        "injected concept ranks first among the candidates (logits; chance = 1/n_candidates) "
        "or is named in an affirmative answer (text; chance = 1/number of injected concepts); "
        "Wilson CIs, bounds shifted by chance. Mutual information in bits between injected "
        "and reported concept (Miller-Madow corrected, bootstrap CI; plug-in against the "
        "shuffled-label baseline with a permutation p-value); an answer naming no concept "
        "is its own label '<none>'.",
        table_block(format_table(t["identification"]), "Identification by configuration")
        + table_block(format_table(t["mutual_information"]), "Mutual information")
        + img(figs.get("mutual_information"), "mutual information")
        + heading("Confabulations")
        + paragraph(confabulation_text(t["confabulation_summary"]))
        + table_block(format_table(t["confabulation"]), "Concepts named instead")
        + img(figs.get("confabulation"), "confabulation"),
    )
