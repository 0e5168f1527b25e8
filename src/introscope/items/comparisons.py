"""Generated comparisons from a bundled table of entities with one numeric attribute each
(``items/data/entities.json``): "Which is taller, the Eiffel Tower or the Space Needle?".

Every pair is askable in both orders (the options follow the question's order, so the
correct letter is A as often as B). Pairs closer than the attribute's ``min_ratio`` (or
``min_gap``) are never asked. Difficulty is the closeness of the two values in (0, 1]:
smaller / larger for ratio scales, ``exp(-gap / width)`` for years.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from functools import cache
from importlib import resources
from typing import Any

from introscope.items.item import Item


@cache
def entity_table() -> dict[str, dict[str, Any]]:
    """Attribute family -> its question template, winner rule and entities."""
    text = resources.files("introscope.items").joinpath("data/entities.json").read_text("utf-8")
    data: dict[str, dict[str, Any]] = json.loads(text)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _askable(spec: dict[str, Any], x: float, y: float) -> tuple[bool, float]:
    if spec["scale"] == "log":
        ratio = max(x, y) / min(x, y)
        return ratio >= float(spec["min_ratio"]), min(x, y) / max(x, y)
    gap = abs(x - y)
    return gap >= float(spec["min_gap"]), math.exp(-gap / float(spec["width"]))


def comparison_items(per_family: int | None = None, seed: int = 0) -> list[Item]:
    """Comparison questions, ``per_family`` per attribute (all when None), drawn
    deterministically from the seed."""
    out: list[Item] = []
    for family, spec in entity_table().items():
        names = list(spec["entities"])
        pool: list[Item] = []
        for i, j in itertools.permutations(range(len(names)), 2):
            a, b = names[i], names[j]
            va, vb = float(spec["entities"][a]), float(spec["entities"][b])
            ok, closeness = _askable(spec, va, vb)
            if not ok:
                continue
            larger_wins = spec["winner"] == "larger"
            answer = a if (va > vb) == larger_wins else b
            pool.append(
                Item(
                    id=f"cmp-{family}-{i:02d}-{j:02d}",
                    family=family,
                    question=spec["question"].format(a=a, b=b),
                    answer=answer,
                    options=(a, b),
                    difficulty=closeness,
                    source="comparisons",
                )
            )
        random.Random(f"{seed}:{family}").shuffle(pool)
        out += pool if per_family is None else pool[:per_family]
    return out
