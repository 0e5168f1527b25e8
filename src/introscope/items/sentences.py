"""The neutral sentence bank of the neurofeedback slice (``items/data/sentences.jsonl``).

200 short descriptive sentences written for introscope, 100 set outdoors and 100 indoors
(the ``setting`` tag is the label of the logistic-regression axis). None is emotional,
moral or about the reader; lengths run from 6 to 12 words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Sentence:
    id: str
    text: str
    setting: str  # "outdoor" or "indoor"


@cache
def sentence_bank() -> tuple[Sentence, ...]:
    text = resources.files("introscope.items").joinpath("data/sentences.jsonl")
    rows = [json.loads(x) for x in text.read_text("utf-8").splitlines() if x.strip()]
    return tuple(Sentence(r["id"], r["text"], r["setting"]) for r in rows)
