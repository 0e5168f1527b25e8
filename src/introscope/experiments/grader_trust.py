"""The rule grader's agreement with hand labels, as a table and a report section, for every
slice whose generated answers the rules grade (detection, prefill, yes-bias generation).

The numbers come from :mod:`introscope.grading.validation` (the shipped labelled set, test
split); the lines built on a criterion below target are marked with
:func:`introscope.headlines.low_trust` by the slices themselves.
"""

from __future__ import annotations

import pandas as pd

from introscope.grading.validation import KAPPA_TARGET, agreement_rows
from introscope.render.html import Section, table_block
from introscope.render.tables import format_table
from introscope.tables import RunFrame, frame

RULES_VALIDATION_TEXT = (
    "Cohen's kappa (95% bootstrap CI over responses) between the rule grader as shipped and "
    "hand labels of real answers of the bundled model, on the labelled set's test split (the "
    f"rules were tuned on the dev split; docs/grading.md). A criterion below kappa "
    f"{KAPPA_TARGET}, or with too few labels of one class to be measured, is low trust: every "
    "scorecard and summary line built on it says so. The grades in this run were made by the "
    "rules of the version that ran it: 'introscope grade RUN --rules' re-grades them with "
    "these rules, and 'introscope grade RUN --judge URL --judge-model NAME' adds an LLM "
    "judge's grades and the rule-judge agreement."
)


def rules_validation_table(run: RunFrame, kind: str) -> pd.DataFrame:
    """The agreement rows of ``kind``'s criteria (pooled rows included), for runs with
    generated ``kind`` answers; empty otherwise."""
    if not run.records(kind, "generation"):
        return pd.DataFrame()
    return frame(agreement_rows((kind,)))


def rules_validation_section(table: pd.DataFrame, anchor: str = "rules-validation") -> Section:
    """The "Grader agreement" section for a slice's ``rules_validation`` table."""
    return Section(
        "Grader agreement (rules vs hand labels)",
        anchor,
        RULES_VALIDATION_TEXT,
        table_block(format_table(table), "Rule grader vs hand labels, test split"),
    )
