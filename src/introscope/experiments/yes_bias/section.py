"""The yes-bias report sections: the logit readout (with the scatter) and the generated
answers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.grader_trust import rules_validation_section
from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables, is_nan


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    out: list[Section] = []
    yb = t["yes_bias"]
    if len(yb):
        shown = yb.drop(columns=[c for c in yb.columns if str(c).startswith("pearson")])
        out.append(
            Section(
                "Yes-bias control",
                "yes-bias",
                logits_intro(t),
                table_block(format_table(shown), "Yes-bias shifts by configuration")
                + img(figs.get("yes_bias"), "yes bias"),
            )
        )
    if len(t["yes_bias_generation"]):
        out.append(
            Section(
                "Yes-bias control (generated answers)",
                "yes-bias-generation",
                "The same injections while the model answers, in free text, yes/no questions "
                "whose true answer is 'no'. yes_bias_shift = rate of answers opening with "
                "'yes' under injection minus without (Newcombe CI); net_affirmative = the "
                "detection-claim shift at the same configuration; bias_corrected_claims = "
                "their difference (MOVER CI). Answers opening with neither yes nor no are "
                "missing, not 'no'.",
                table_block(
                    format_table(t["yes_bias_generation"]), "Yes-bias answers by configuration"
                ),
            )
        )
    if len(t["rules_validation"]):
        out.append(rules_validation_section(t["rules_validation"], "rules-validation-yes-bias"))
    return out


def logits_intro(t: Tables) -> str:
    """The logit section's intro, with the across-configuration correlation when defined."""
    text = (
        "Shift in P(yes) on the detection question next to the shift on yes/no questions "
        "whose true answer is 'no'; bias-corrected detection = detection shift minus "
        "yes-bias shift (Welch CI)."
    )
    r0 = t["yes_bias"].iloc[0]
    if is_nan(r0["pearson_r"]):
        return text
    r_ci = (
        "no CI with fewer than 4 configurations"
        if is_nan(r0["pearson_ci_low"])
        else f"[{r0['pearson_ci_low']:.2f}, {r0['pearson_ci_high']:.2f}]"
    )
    return text + (
        f" Across configurations, the two shifts correlate at r = {r0['pearson_r']:.2f} "
        f"({r_ci}; n={int(r0['pearson_n'])} configurations)."
    )
