"""Cross-prediction's report section."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from introscope.render.html import Section, img, table_block
from introscope.render.tables import format_table
from introscope.tables import Tables


def sections(t: Tables, figs: Mapping[str, Path]) -> list[Section]:
    if len(t["predictions"]) == 0:
        return []
    return [
        Section(
            "Cross-prediction: self vs other",
            "cross-prediction",
            "Predicting the first model's own behaviour (correctness, picking option A, the "
            "first word of its brief answer) from the model itself (self), from a second "
            "model given exactly the same prompt with the same k in-context examples of the "
            "first model's behaviour (other, when params.other_model is set), and from a "
            "logistic classifier on the question's surface features trained on the first "
            "model's behaviour (out of fold, folds grouped by item family). Privileged "
            "access would show as self - other > 0; when the classifier does as well as "
            "self, the self-prediction needs no access to the model's states. Intervals: "
            "bootstrap over item families.",
            table_block(format_table(t["privileged"]), "Differences between predictors")
            + img(figs.get("cross_prediction"), "prediction accuracy")
            + table_block(format_table(t["predictions"]), "Accuracy per predictor")
            + table_block(t["behaviour"], "The first model's behaviour"),
        )
    ]
