"""The paper's word lists and category names (Lindsey 2025), shipped as package data.

Torch-free on purpose: specs, analyses and reports need the lists without loading a model.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from introscope.errors import VectorError

CATEGORIES = ("abstract_nouns", "concrete_nouns", "famous_people", "countries", "verbs")


@cache
def paper_words() -> dict[str, Any]:
    """The word lists of Lindsey (2025), shipped as package data."""
    text = resources.files("introscope").joinpath("data/lindsey2025_words.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def word_list(name: str) -> list[str]:
    """``main`` (50 concepts), ``baseline`` (100 words), a category, or ``all`` categories."""
    data = paper_words()
    if name in ("main", "main_concepts"):
        return list(data["main_concepts"])
    if name in ("baseline", "baseline_words"):
        return list(dict.fromkeys(data["baseline_words"]))  # the original repeats one word
    if name in data["categories"]:
        return list(data["categories"][name])
    if name == "all":
        return [w for c in CATEGORIES for w in data["categories"][c]]
    known = ", ".join(["main", "baseline", "all", *data["categories"]])
    raise VectorError(f"Unknown word list {name!r}; choose one of: {known}.")
