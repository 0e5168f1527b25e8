"""How far the rule grader can be trusted: its agreement with hand labels.

``grading/labels/grader_labels.jsonl`` holds real responses of the bundled model (detection,
prefill and yes-bias generation; made by ``benchmarks/make_grader_sample.py``), each
labelled by reading it, per criterion (docs/grading.md). Each item carries a ``split``: the
rules were tuned on ``dev`` only; agreement is reported on ``test``.

Agreement is Cohen's kappa between the rule grader (as it is now, applied to the labelled
responses) and the labels, with a percentile bootstrap interval over responses. A criterion
is *low trust* when its test-split kappa is below :data:`KAPPA_TARGET`, or when the test
split has too few labels of one class to measure it (:data:`MIN_CLASS`): then every report
line built on it says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from introscope.grading.concepts import names_concept
from introscope.grading.rules import (
    DetectionGrade,
    answered_yes,
    grade_detection,
    is_apology,
    is_coherent,
)
from introscope.stats import bootstrap_ci

LABELS_PATH = Path(__file__).parent / "labels" / "grader_labels.jsonl"
#: Kappa at or above which a criterion's rates are read without a low-trust note.
KAPPA_TARGET = 0.8
#: A criterion needs this many labels of each of two classes in the split to be measured.
MIN_CLASS = 5

#: (experiments, criterion) rows the labelled set covers, in table order. The criteria are
#: the names of the rules grades; ``answered_yes`` is three-way (yes / no / neither).
#: ``claims_detection`` is coherent and affirmative, the conjunction the false-positive and
#: net-claim lines count. "detection+prefill" pools the two experiments: coherence and concept naming are the same functions
#: of the text in both, and the bundled model's detection answers almost never name the
#: injected concept, so names-concept can only be measured on the pool.
CRITERIA: tuple[tuple[str, str], ...] = (
    ("detection", "coherent"),
    ("detection", "affirmative"),
    ("detection", "correct_concept"),
    ("detection", "noticed_first"),
    ("detection", "claims_detection"),
    ("prefill", "coherent"),
    ("prefill", "apology"),
    ("prefill", "correct_concept"),
    ("yes_bias", "answered_yes"),
    ("detection+prefill", "coherent"),
    ("detection+prefill", "correct_concept"),
)

Label = bool | str


@dataclass(frozen=True)
class LabelledResponse:
    """One labelled response; ``labels`` maps criterion -> label (only the criteria that
    apply: no concept criteria on no-injection trials). ``ambiguous`` names the criteria the
    labeller found hard to call."""

    id: str
    experiment: str
    control: str
    concept: str | None
    response: str
    split: str
    labels: Mapping[str, Label]
    ambiguous: tuple[str, ...]
    note: str


def load_labels(path: Path = LABELS_PATH) -> list[LabelledResponse]:
    """The labelled set (a :class:`ValueError` names the line of a malformed entry)."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            d = json.loads(line)
            labels = dict(d["labels"])
            if "answer" in labels:
                labels["answered_yes"] = labels.pop("answer")
            ambiguous = tuple("answered_yes" if a == "answer" else a for a in d["ambiguous"])
            if "affirmative" in labels:
                labels["claims_detection"] = labels["coherent"] and labels["affirmative"]
                if {"coherent", "affirmative"} & set(ambiguous):
                    ambiguous += ("claims_detection",)
            out.append(
                LabelledResponse(
                    d["id"],
                    d["experiment"],
                    d["control"],
                    d["concept"],
                    d["response"],
                    d["split"],
                    labels,
                    ambiguous,
                    d["note"],
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{i}: not a labelled response ({exc}).") from None
    return out


def _answer(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "neither"}[value]


@lru_cache(maxsize=1024)
def _detection_grade(response: str, concept: str | None) -> DetectionGrade:
    return grade_detection(response, concept)


def rule_grade(item: LabelledResponse, criterion: str) -> Label:
    """What the rule grader, as it is now, says about ``item`` on ``criterion``."""
    text = item.response
    if item.experiment == "detection":
        concept = item.concept if item.control != "none" else None
        grade = _detection_grade(text, concept)
        if criterion == "claims_detection":
            return grade.coherent and grade.affirmative
        return bool(getattr(grade, criterion))
    if criterion == "answered_yes":
        return _answer(answered_yes(text))
    if criterion == "apology":
        return is_apology(text)
    if criterion == "coherent":
        return is_coherent(text)
    if criterion == "correct_concept":
        return item.concept is not None and names_concept(text, item.concept)
    raise ValueError(f"No rule for the criterion {criterion!r} of {item.experiment}.")


def kappa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cohen's kappa of integer-coded label arrays, row by row over the last axis (the
    convention of :func:`introscope.stats.cohens_kappa`: 1.0 when both use one and the same
    label). Written with numpy so that the bootstrap's resamples are computed at once."""
    a, b = np.asarray(a), np.asarray(b)
    k = int(max(a.max(initial=0), b.max(initial=0))) + 1
    observed = np.mean(a == b, axis=-1)
    expected = sum(np.mean(a == c, axis=-1) * np.mean(b == c, axis=-1) for c in range(k))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (observed - expected) / (1.0 - expected)
    return np.where(expected >= 1.0, np.where(observed >= 1.0, 1.0, 0.0), out)


@dataclass(frozen=True)
class Agreement:
    """Rule grader vs hand labels for one (experiment, criterion) on one split.

    ``classes`` counts the labels per value; ``determined`` is False when fewer than two
    values have :data:`MIN_CLASS` labels each (kappa then says little and is not a verdict).
    """

    experiment: str
    criterion: str
    split: str
    n: int
    classes: Mapping[str, int]
    n_ambiguous: int
    agreement: float
    kappa: float
    ci_low: float
    ci_high: float
    determined: bool

    @property
    def low_trust(self) -> bool:
        return not self.determined or not self.kappa >= KAPPA_TARGET


def measure(
    items: Sequence[LabelledResponse],
    experiment: str,
    criterion: str,
    split: str = "test",
    grade: Callable[[LabelledResponse, str], Label] = rule_grade,
    n_boot: int = 2000,
    seed: int = 0,
    unambiguous: bool = False,
) -> Agreement:
    """Kappa of ``grade`` against the labels, with a bootstrap interval over responses.

    ``experiment`` may pool several with "+" ("detection+prefill"); ``split`` "all" takes
    both halves; ``unambiguous`` leaves out the answers whose label was marked ambiguous."""
    kinds = experiment.split("+")
    chosen = [
        it
        for it in items
        if it.experiment in kinds
        and criterion in it.labels
        and split in (it.split, "all")
        and not (unambiguous and criterion in it.ambiguous)
    ]
    truth = [it.labels[criterion] for it in chosen]
    graded = [grade(it, criterion) for it in chosen]
    codes: dict[Label, int] = {}
    a = np.array([codes.setdefault(v, len(codes)) for v in truth], dtype=np.int64)
    b = np.array([codes.setdefault(v, len(codes)) for v in graded], dtype=np.int64)
    classes = {str(v).lower(): truth.count(v) for v in sorted(set(truth), key=str)}

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        # scipy passes resampled indices (as floats), one resample per row
        rows = np.moveaxis(idx, axis, -1).astype(np.int64)
        return kappa(a[rows], b[rows])

    est, low, high = bootstrap_ci(
        [float(i) for i in range(len(chosen))], statistic, n_boot=n_boot, seed=seed
    )
    return Agreement(
        experiment,
        criterion,
        split,
        len(chosen),
        classes,
        sum(criterion in it.ambiguous for it in chosen),
        float(np.mean(a == b)) if len(chosen) else float("nan"),
        float(est),
        low,
        high,
        sum(c >= MIN_CLASS for c in classes.values()) >= 2,
    )


@lru_cache(maxsize=4)
def shipped_agreement(split: str = "test") -> tuple[Agreement, ...]:
    """Every criterion of :data:`CRITERIA` on the shipped labels (computed once a process)."""
    items = load_labels()
    return tuple(measure(items, e, c, split) for e, c in CRITERIA)


def agreement_rows(experiments: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The test-split agreement as table rows (for reports), optionally only the rows of
    some experiments (pooled rows that include one of them too)."""
    rows = []
    for g in shipped_agreement():
        kinds = g.experiment.split("+")
        if experiments is not None and not set(kinds) & set(experiments):
            continue
        rows.append(
            {
                "experiment": g.experiment,
                "criterion": g.criterion,
                "n": g.n,
                "labels": ", ".join(f"{k} {v}" for k, v in g.classes.items()),
                "agreement": g.agreement,
                "kappa": g.kappa,
                "kappa_ci_low": g.ci_low,
                "kappa_ci_high": g.ci_high,
                "trust": "low" if g.low_trust else "ok",
            }
        )
    return rows


def governing(experiment: str, criterion: str) -> Agreement | None:
    """The test-split row that decides whether ``experiment``'s ``criterion`` is trusted:
    its own row when it can be measured, else a pooled row that contains it and can be."""
    rows = [
        g
        for g in shipped_agreement()
        if g.criterion == criterion and experiment in g.experiment.split("+")
    ]
    own = next((g for g in rows if g.experiment == experiment), None)
    if own is not None and own.determined:
        return own
    return next((g for g in rows if g.determined), own)


def low_trust_note(experiment: str, criteria: Sequence[str]) -> str:
    """A sentence for report lines built on ``criteria`` of ``experiment``'s rules grades:
    empty when every criterion meets :data:`KAPPA_TARGET` on the test split."""
    parts = []
    for c in criteria:
        g = governing(experiment, c)
        if g is None or not g.low_trust:
            continue
        where = "" if g.experiment == experiment else f", on {g.experiment} answers"
        if g.determined:
            parts.append(f"{c} kappa {g.kappa:.2f} [{g.ci_low:.2f}, {g.ci_high:.2f}]{where}")
        else:
            few = min(g.classes.values()) if len(g.classes) > 1 else 0
            parts.append(f"{c} not measurable ({few} of {g.n} labels in the rarer class)")
    if not parts:
        return ""
    return (
        " Low trust: the rule grader's agreement with hand labels is below kappa "
        f"{KAPPA_TARGET} for {'; '.join(parts)} (docs/grading.md)."
    )
