"""Synthetic item trials for the metacognition slices' constructed-case tests (no model)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conftest import TrialRecords
from introscope.experiments.selfreport import signals


def surface(rng: np.random.Generator, n_options: int = 4) -> dict[str, float]:
    chars = float(rng.integers(20, 120))
    return {
        "question_chars": chars,
        "question_words": chars / 5,
        "digit_count": float(rng.integers(0, 6)),
        "option_count": float(n_options),
        "option_chars": float(rng.integers(10, 60)),
    }


def item_readout(rng: np.random.Generator, **values: Any) -> dict[str, Any]:
    """A probe readout with neutral values, overridden by ``values``."""
    out: dict[str, Any] = {
        "answer": "A",
        "correct": bool(rng.random() < 0.5),
        "conf_option": float(rng.random()),
        "entropy": float(rng.normal(2.0, 0.5)),
        "option_entropy": 1.0,
        "sampled_answer": "A",
        "sampled_correct": bool(rng.random() < 0.5),
        "p_true": float(rng.random()),
        "verbal": float(rng.random()),
        "p_ik": float(rng.random()),
        "n_options": 4,
        "difficulty": None,
        "suggestion": None,
        "followed_suggestion": None,
        "surface": surface(rng),
        "lead": "none",
    }
    out.update(values)
    return out


def add_item(
    records: TrialRecords, kind: str, item: str, family: str, readout: dict[str, Any], **cond: Any
) -> None:
    records.add(kind, {"item": item, "family": family, **cond}, logits=readout)


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 bootstrap resamples instead of 1000 (the constructed cases do not need the
    interval's third digit); a test module opts in by importing this fixture."""
    monkeypatch.setattr(signals, "BOOT", 200)
