"""Constructed yes-bias runs with known answers, in log-odds: each question (and the
detection question) has a no-injection log-odds b; under a concept's injection it becomes
b * (1 - drift) + push_c (+ extra on the detection question) + noise, where push_c is the
concept's own push (the same on every question), drift pulls every answer toward 0.5 and
extra is a detection signal no control question shares."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from introscope.experiments.yes_bias.params import PROTOCOL
from introscope.experiments.yes_bias.questions import Question, selected
from introscope.tables import RunFrame
from support import TrialRecords

CONFIG = (10, 4.0, "concept")


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def readout(lo: float, mass: float = 0.9) -> dict[str, Any]:
    return {"p_yes": sigmoid(lo), "yes_log_odds": lo, "yes_no_mass": mass}


def det_cond(concept: str | None, config: tuple[Any, ...] | None) -> dict[str, Any]:
    layer, strength, control = config or (None, None, "none")
    return {"concept": concept, "layer": layer, "strength": strength, "control": control}


def q_cond(q: Question, concept: str | None, config: tuple[Any, ...] | None) -> dict[str, Any]:
    return {
        "question_id": q.question_id,
        "answer": q.answer,
        "topic": q.topic,
        "protocol": PROTOCOL,
        **det_cond(concept, config),
    }


def large_model_baselines(questions: list[Question]) -> dict[str, float]:
    """No-injection P(yes) as a large model gives them: 0.01-0.05 on "no"-answer questions,
    0.95-0.99 on "yes"-answer ones (the detection question sits between, at 0.63)."""
    out: dict[str, float] = {}
    for kind in ("no", "yes"):
        qs = [q for q in questions if q.answer == kind]
        for i, q in enumerate(qs):
            p = 0.01 + 0.04 * i / max(1, len(qs) - 1)
            out[q.question_id] = p if kind == "no" else 1.0 - p
    return out


@dataclass
class Design:
    n_concepts: int = 30
    push: float = 2.0
    push_sd: float = 0.3  # concept-to-concept variation of the push (shared by its questions)
    drift: float = 0.0
    extra: float = 0.0  # detection-only signal
    noise: float = 0.1
    seed: int = 0
    questions_per_kind: int = 3
    detection_p: float = 0.63
    baselines: dict[str, float] = field(default_factory=dict)  # question id -> P(yes)
    config: tuple[Any, ...] = CONFIG

    def questions(self) -> list[Question]:
        return selected(self.questions_per_kind)

    def concepts(self) -> list[str]:
        return [f"c{i:02d}" for i in range(self.n_concepts)]


def trials(d: Design) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The design's logit trials: (experiment, condition, readout)."""
    rng = np.random.default_rng(d.seed)
    qs = d.questions()
    base = {**large_model_baselines(qs), **d.baselines}
    det_lo = logit(d.detection_p)
    yield "detection", det_cond(None, None), readout(det_lo)
    for q in qs:
        yield "yes_bias", q_cond(q, None, None), readout(logit(base[q.question_id]))
    for c in d.concepts():
        push = d.push + rng.normal(0.0, d.push_sd)
        lo = det_lo * (1 - d.drift) + push + d.extra + rng.normal(0.0, d.noise)
        yield "detection", det_cond(c, d.config), readout(lo)
        for q in qs:
            lo = logit(base[q.question_id]) * (1 - d.drift) + push + rng.normal(0.0, d.noise)
            yield "yes_bias", q_cond(q, c, d.config), readout(lo)


def add_run(b: TrialRecords, d: Design) -> TrialRecords:
    """The design's logit trials added to ``b`` (for runs written to a directory)."""
    for experiment, condition, logits in trials(d):
        b.add(experiment, condition, measure="logits", logits=logits)
    return b


def run_of(d: Design) -> RunFrame:
    """The design's trials as a run frame, built directly (fast enough for many repeats)."""
    rows = [
        {"experiment": e, "measure": "logits", "condition": {**c, "rep": 0}, "logits": lo}
        for e, c, lo in trials(d)
    ]
    return RunFrame(pd.DataFrame(rows))
