"""The yes-bias report sections: the logit readout in log-odds (tables and figures) and the
generated answers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from introscope.experiments.grader_trust import rules_validation_section
from introscope.experiments.yes_bias.params import MIN_YES_NO_MASS, WRONG_BELOW
from introscope.render.html import Section, img, table_block
from introscope.render.tables import drop_empty, format_table
from introscope.tables import Tables, is_nan, to_float

LOGITS_INTRO = (
    "The detection injections while the model answers yes/no questions about the world and "
    "about itself, asked as trials of the detection conversation (the same preamble, the "
    "same 'Trial 1:' frame, the same injection span). Every shift is in log-odds of 'yes' "
    "(the logit of P(yes) renormalised over yes and no), so an equal push toward 'yes' is "
    "an equal shift whatever a question's baseline. Per concept: detection_shift = the "
    "detection question's log-odds minus its no-injection value; control_yes_shift / "
    "control_no_shift = the mean shift of the kept questions whose true answer is 'yes' / "
    "'no' (each against its own no-injection value); control_shift = their mean; "
    "drift_shift = (no - yes) / 2, positive when answers drift toward 0.5; "
    "bias_corrected_detection = detection_shift - control_shift. Each column is a mean over "
    "the concepts paired at that configuration with a t interval over concepts (n counts "
    "concepts). A pure push toward 'yes' raises both kinds of question alike (bias_pattern "
    "'push toward yes'); a drift toward 0.5 raises 'no'-answer questions and lowers "
    "'yes'-answer ones. "
)


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    out: list[Section] = []
    yb, questions = t["yes_bias"], t["yes_bias_questions"]
    if len(yb):
        shown = yb.drop(columns=[c for c in yb.columns if str(c).startswith("pearson")])
        logit_q = questions[questions["measure"] == "logits"] if len(questions) else questions
        out.append(
            Section(
                "Yes-bias control",
                "yes-bias",
                LOGITS_INTRO + left_out_text(t) + correlation_text(yb),
                table_block(format_table(shown), "Log-odds shifts by configuration")
                + img(figs.get("yes_bias"), "detection vs control shift")
                + img(figs.get("yes_bias_concepts"), "per concept")
                + img(figs.get("yes_bias_baselines"), "question baselines")
                + table_block(
                    format_table(drop_empty(logit_q)), "No-injection baseline of every question"
                ),
            )
        )
    gen = t["yes_bias_generation"]
    if len(gen):
        gen_q = questions[questions["measure"] == "generation"] if len(questions) else questions
        out.append(
            Section(
                "Yes-bias control (generated answers)",
                "yes-bias-generation",
                "The same injections and questions, in the same frame, answered in free text. "
                "yes_bias_shift = the rate of answers opening with 'yes' under injection minus "
                "the same questions' rate without (Newcombe CI), split by the questions' true "
                "answer (yes_answer_shift, no_answer_shift); net_affirmative = the "
                "detection-claim shift at the same configuration; bias_corrected_claims = "
                "their difference (MOVER CI; n counts trials). Answers opening with neither "
                f"yes nor no are missing, not 'no'. Questions answered correctly in under "
                f"{WRONG_BELOW:.0%} of the no-injection answers are dropped "
                "(n_dropped_question counts their trials).",
                table_block(format_table(gen), "Yes-bias answers by configuration")
                + table_block(
                    format_table(drop_empty(gen_q)), "No-injection answers to every question"
                ),
            )
        )
    if len(t["rules_validation"]):
        out.append(rules_validation_section(t["rules_validation"], "rules-validation-yes-bias"))
    return out


def left_out_text(t: Tables) -> str:
    """What the analysis left out, from the summary's logits row."""
    s = t["yes_bias_summary"]
    rows = s[s["measure"] == "logits"] if len(s) else s
    if len(rows) == 0:
        return ""
    r = rows.iloc[0]
    return (
        f"Left out: {int(r['n_low_mass'])} of {int(r['n_injected'])} injected trials whose "
        f"yes+no probability mass is below {MIN_YES_NO_MASS:g} (n_low_mass per configuration; "
        "their P(yes) is a ratio of tail probabilities, not an answer), and "
        f"{int(r['n_dropped_wrong'])} of {int(r['n_questions'])} questions the model answers "
        f"confidently wrong without injection (P(correct) < {WRONG_BELOW:g}), "
        f"{int(r['n_dropped_mass'])} whose own no-injection mass is below the threshold. The "
        f"median no-injection mass is {to_float(r['median_question_mass']):.2f} on the "
        f"questions and {to_float(r['detection_mass']):.2f} on the detection question. "
    )


def correlation_text(yb: pd.DataFrame) -> str:
    r0 = yb.iloc[0]
    if is_nan(r0["pearson_r"]):
        return ""
    r_ci = (
        "no CI with fewer than 4 configurations"
        if is_nan(r0["pearson_ci_low"])
        else f"[{r0['pearson_ci_low']:.2f}, {r0['pearson_ci_high']:.2f}]"
    )
    return (
        f"Across configurations, the two shifts correlate at r = {r0['pearson_r']:.2f} "
        f"({r_ci}; n={int(r0['pearson_n'])} configurations)."
    )
