"""Yes-bias control on constructed data with known answers, and the yes/no answer grader."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from introscope import analysis
from introscope.experiments.yes_bias import answered_yes, questions
from introscope.store import RunStore, TrialRecord, load_run

_ids = itertools.count()


def _rec(
    experiment: str,
    measure: str,
    cond: dict[str, Any],
    *,
    p_yes: float | None = None,
    grades: dict[str, Any] | None = None,
) -> TrialRecord:
    i = next(_ids)
    return TrialRecord(
        trial_id=f"t{i:06d}",
        run_id="r",
        experiment=experiment,
        cell_id="c",
        condition=cond,
        prompt="p",
        measure=measure,
        seed=i,  # type: ignore[arg-type]
        logits=None if p_yes is None else {"p_yes": p_yes},
        grades=grades or {},
    )


def _frame(tmp_path: Path, records: list[TrialRecord]) -> pd.DataFrame:
    with RunStore(tmp_path) as store:
        store.write_batch(records)
    return load_run(tmp_path)


def _cond(control: str, **extra: Any) -> dict[str, Any]:
    inj = control != "none"
    return {
        "concept": "Dust" if inj else None,
        "layer": 10 if inj else None,
        "strength": 4.0 if inj else None,
        "control": control,
        **extra,
    }


def test_identical_rise_gives_zero_bias_corrected_detection(tmp_path: Path) -> None:
    """P(yes) rises by exactly +0.2 on the detection question and on every 'no' question:
    the detection shift is entirely a push toward 'yes'."""
    recs = []
    for k in range(20):
        base = 0.3 + 0.01 * (k % 5)
        recs.append(_rec("detection", "logits", _cond("none", rep=k), p_yes=base))
        recs.append(_rec("detection", "logits", _cond("concept", rep=k), p_yes=base + 0.2))
    for qid, _kind, _text in questions()[:20]:
        recs.append(_rec("yes_bias", "logits", _cond("none", question_id=qid), p_yes=0.1))
        recs.append(_rec("yes_bias", "logits", _cond("concept", question_id=qid), p_yes=0.3))
    t = analysis.yes_bias_table(*(2 * [_frame(tmp_path, recs)]))
    row = t[t["control"] == "concept"].iloc[0]
    assert math.isclose(row["detection_shift"], 0.2, abs_tol=1e-9)
    assert math.isclose(row["yes_bias_shift"], 0.2, abs_tol=1e-9)
    assert abs(row["bias_corrected_detection"]) < 1e-9
    assert row["bias_corrected_detection_ci_low"] <= 0 <= row["bias_corrected_detection_ci_high"]


def _claims(affirmative: bool) -> dict[str, Any]:
    return {
        "rules": {
            "coherent": True,
            "affirmative": affirmative,
            "correct_concept": False,
            "noticed_first": False,
            "success": False,
            "outcome": "x",
        }
    }


@pytest.mark.parametrize(("yes_under_injection", "expected"), [(5, 0.5), (30, 0.0)])
def test_generation_bias_corrected_claims(
    tmp_path: Path, yes_under_injection: int, expected: float
) -> None:
    """Detection claims rise from 5/50 to 30/50 (+0.5). If yes-answers to 'no' questions stay
    at 5/50 the corrected claim shift is +0.5; if they rise just as much it is 0."""
    recs = []
    for k in range(50):
        recs.append(_rec("detection", "generation", _cond("none", rep=k), grades=_claims(k < 5)))
        recs.append(
            _rec("detection", "generation", _cond("concept", rep=k), grades=_claims(k < 30))
        )
        q = f"world-{k:02d}"
        recs.append(
            _rec(
                "yes_bias",
                "generation",
                _cond("none", question_id=q),
                grades={"rules": {"answered_yes": k < 5}},
            )
        )
        recs.append(
            _rec(
                "yes_bias",
                "generation",
                _cond("concept", question_id=q),
                grades={"rules": {"answered_yes": k < yes_under_injection}},
            )
        )
    # Unparseable answers are missing, not "no": they must not change the rates.
    recs.append(
        _rec(
            "yes_bias",
            "generation",
            _cond("concept", question_id="x"),
            grades={"rules": {"answered_yes": None}},
        )
    )
    t = analysis.yes_bias_generation_table(_frame(tmp_path, recs))
    row = t[t["control"] == "concept"].iloc[0]
    assert row["answered_yes_n"] == 50
    assert math.isclose(row["net_affirmative"], 0.5, abs_tol=1e-9)
    assert math.isclose(row["bias_corrected_claims"], expected, abs_tol=1e-9)
    low, high = row["bias_corrected_claims_ci_low"], row["bias_corrected_claims_ci_high"]
    assert low < expected < high
    if expected == 0.0:
        assert low < 0 < high
    else:
        assert low > 0  # 25 more claims out of 50 is well outside the interval around 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", True),
        ("yes, it is", True),
        ("No, it is not.", False),
        ("Nope", False),
        ("Not at all.", False),
        ("The Eiffel Tower is in Paris.", None),
        ("", None),
        ("  YES!", True),
        ("Correct", True),
    ],
)
def test_answered_yes(text: str, expected: bool | None) -> None:
    assert answered_yes(text) is expected


def test_questions_are_no_questions_of_both_kinds() -> None:
    qs = questions()
    assert len(qs) >= 40
    kinds = {k for _, k, _ in qs}
    assert kinds == {"world", "self"}
    assert len({q for q, _, _ in qs}) == len(qs)
