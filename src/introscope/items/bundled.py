"""The bundled multiple-choice bank (``items/data/multiple_choice.jsonl``).

290 four-option questions written for introscope in six families: geography, science,
history, word_knowledge, everyday and numbers_shapes. Each line stores the answer and three
distractors; the four options are put in an order drawn from the item id, so the correct
letter is spread over A-D and never depends on the run.
"""

from __future__ import annotations

import json
import random
from functools import cache
from importlib import resources

from introscope.items.item import Item


@cache
def multiple_choice_items() -> tuple[Item, ...]:
    """Every bundled multiple-choice item, in file order."""
    text = resources.files("introscope.items").joinpath("data/multiple_choice.jsonl")
    out = []
    for line in text.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        options = [row["answer"], *row["distractors"]]
        random.Random(row["id"]).shuffle(options)
        out.append(
            Item(
                id=row["id"],
                family=row["family"],
                question=row["question"],
                answer=row["answer"],
                options=tuple(options),
                difficulty=None,
                source="multiple_choice",
            )
        )
    return tuple(out)
