"""The natural-states report section: the per-template manipulation check and the
regressions of the report on the projection, given the text (tables only)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.experiments.selection import selection_paragraph
from introscope.render.html import Section, heading, paragraph, table_block
from introscope.render.tables import drop_empty, format_table
from introscope.tables import Tables


def sections(t: Tables, _figs: Mapping[str, Path]) -> list[Section]:
    ns = t["natural_states"]
    if len(ns) == 0:
        return []
    tmpl = drop_empty(ns[ns["row_type"] == "template"].drop(columns=["row_type"]))
    reg = drop_empty(ns[ns["row_type"] == "regression"].drop(columns=["row_type"]))
    return [
        Section(
            "Natural states",
            "natural-states",
            "No injection: the model reads passages that are more or less related to a "
            "concept (templates repeated, single, incidental) and gives a one-word report "
            "of what it is thinking about. The question is whether the report carries "
            "information about the activation's projection onto the concept direction "
            "beyond what the text itself predicts.",
            heading("Per template (manipulation check)")
            + paragraph(
                "identified: the concept ranks first among the candidates (Wilson CI); "
                "concept_logprob: its log-probability; cos: cosine between the activation at "
                "read_at and the concept's vector, distractor_cos: mean cosine with the "
                "distractors' vectors, cos_specific: their per-trial difference (t CIs); "
                "the second table pools cos_specific over templates (over trials, and per "
                "concept: cos_specific_by_concept, t interval over concepts). read_at "
                "passage_end: the passage's last token, before the request and the question; "
                "last_prompt_token (runs before protocol 2): the position whose logits give "
                "the report, where the projection is partly the report itself."
            )
            + table_block(format_table(tmpl), "Per layer and template")
            + table_block(format_table(t["projection_check"]), "Pooled over templates")
            + heading("Report on projection, given the text")
            + paragraph(
                "coef: change in the outcome per standard deviation (predictor_sd) of the "
                "predictor, with the template (and for template+concept also the concept) as "
                "covariates; OLS for concept_logprob, logistic for identified. A coefficient "
                "whose CI excludes 0 means the report tracks the projection beyond the "
                "covariates. A concept's trials are not independent, so the CIs are "
                "cluster-robust by concept (t on concepts - 1 df) and partial_r's is a "
                "cluster bootstrap over concepts; delta_r2: R² gained by adding the "
                "projection."
            )
            + selection_paragraph(t["selection"], "The headlines are")
            + table_block(format_table(reg), "Regressions by layer"),
        )
    ]
