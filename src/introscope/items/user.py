"""A user's own items from a JSONL file, validated line by line.

One JSON object per line::

    {"id": "q1", "family": "chemistry", "question": "Which gas ...?",
     "options": ["Argon", "Neon", "Xenon"], "answer": "Neon", "difficulty": 2}

``question`` and ``answer`` are required; ``options`` (two to eight distinct strings, the
answer among them) may be left out or null for an open question; ``family`` defaults to
"user", ``id`` to ``user-<line number>``. Every bad line gets one sentence naming the file,
the line and what is wrong; they are raised together as one :class:`ItemError`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from introscope.errors import ItemError
from introscope.items.item import OPTION_LETTERS, Item

KEYS = frozenset({"id", "family", "question", "options", "answer", "difficulty"})


def _text(row: dict[str, Any], key: str, required: bool) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{key}' must be a non-empty string")
    return value.strip()


def parse_item(row: Any, line: int) -> Item:
    """One line's object as an :class:`Item`; ``ValueError`` says what is wrong."""
    if not isinstance(row, dict):
        raise ValueError("the line is not a JSON object")
    unknown = sorted(set(row) - KEYS)
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' (keys: {', '.join(sorted(KEYS))})")
    question = _text(row, "question", True)
    answer = _text(row, "answer", True)
    assert question is not None and answer is not None
    options = row.get("options")
    opts: tuple[str, ...] | None = None
    if options is not None:
        if not isinstance(options, list) or not all(
            isinstance(o, str) and o.strip() for o in options
        ):
            raise ValueError("'options' must be a list of non-empty strings or null")
        opts = tuple(o.strip() for o in options)
        if not 2 <= len(opts) <= len(OPTION_LETTERS):
            raise ValueError(f"'options' must hold 2 to {len(OPTION_LETTERS)} options")
        if len(set(opts)) != len(opts):
            raise ValueError("'options' repeats an option")
        if answer not in opts:
            raise ValueError(f"'answer' {answer!r} is not one of the options")
    difficulty = row.get("difficulty")
    if difficulty is not None and (
        isinstance(difficulty, bool)
        or not isinstance(difficulty, int | float)
        or not math.isfinite(difficulty)
    ):
        raise ValueError("'difficulty' must be a finite number or null")
    return Item(
        id=_text(row, "id", False) or f"user-{line}",
        family=_text(row, "family", False) or "user",
        question=question,
        answer=answer,
        options=opts,
        difficulty=None if difficulty is None else float(difficulty),
        source="user",
    )


def read_user_items(path: Path | str) -> list[Item]:
    """Every item of a JSONL file; an :class:`ItemError` lists every bad line (blank lines
    are skipped)."""
    p = Path(path)
    if not p.is_file():
        raise ItemError(f"Item file {str(p)!r} does not exist.")
    items: list[Item] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = parse_item(json.loads(line), n)
        except json.JSONDecodeError as exc:
            problems.append(f"{p}: line {n}: not valid JSON ({exc.msg}).")
            continue
        except ValueError as exc:
            problems.append(f"{p}: line {n}: {exc}.")
            continue
        if item.id in seen:
            problems.append(f"{p}: line {n}: id {item.id!r} already used on line {seen[item.id]}.")
            continue
        seen[item.id] = n
        items.append(item)
    if problems:
        head = f"{p} has {len(problems)} bad line{'s' if len(problems) > 1 else ''}:"
        raise ItemError("\n".join([head, *problems]), problems)
    if not items:
        raise ItemError(f"Item file {str(p)!r} holds no items.")
    return items
