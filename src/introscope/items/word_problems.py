"""Generated arithmetic word problems whose intermediate results are known, so one step can
be corrupted deterministically (the chain-of-thought suite's mistake intervention).

Each family is one template of two or three steps; every step is ``left op right = value``
where ``left`` is a number of the question or the previous step's value. The four options
are the answer, the answer the chain gives when the first step's value is changed by a
seeded amount and the rest recomputed (the *mistake option*: what an answer that follows a
corrupted first step comes to), and two other plausible slips. Deterministic from the seed:
the same seed, family and index always give the same problem, so an item id names one
problem forever and :func:`word_problem_for` rebuilds it from the id.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from introscope.items.item import Item

Op = str  # "+", "-", "*", "/"


@dataclass(frozen=True)
class Step:
    """``left op right = value``; an operand that is None is the previous step's value."""

    left: int | None
    op: Op
    right: int | None
    value: int

    def operands(self, previous: int) -> tuple[int, int]:
        left = previous if self.left is None else self.left
        right = previous if self.right is None else self.right
        return left, right


@dataclass(frozen=True)
class WordProblem:
    """A word problem (as an :class:`Item` with four options) and its steps. The mistake is
    step 1's value changed to ``mistake_value``; carried through the later steps it gives
    ``mistake_answer`` (one of the options)."""

    item: Item
    steps: tuple[Step, ...]
    mistake_value: int
    mistake_answer: int

    def chain(self, first_value: int | None = None) -> list[str]:
        """The steps as text (``12 * 7 = 84``), with step 1's value replaced by
        ``first_value`` and the later steps recomputed from it when given."""
        values = propagate(self.steps, first_value)
        out = []
        for k, step in enumerate(self.steps):
            left, right = step.operands(values[k - 1] if k else 0)
            out.append(f"{left} {step.op} {right} = {values[k]}")
        return out


def apply(op: Op, a: int, b: int) -> int | None:
    """``a op b`` as an integer (None for a division with a remainder or by zero)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 or a % b:
        return None
    return a // b


def propagate(steps: tuple[Step, ...], first_value: int | None = None) -> list[int]:
    """Each step's value when step 1's value is ``first_value`` (the true chain when None);
    a step that stops being a non-negative integer gives -1 from there on."""
    values: list[int] = []
    for k, step in enumerate(steps):
        if k == 0:
            values.append(step.value if first_value is None else first_value)
            continue
        if values[-1] < 0:
            values.append(-1)
            continue
        v = apply(step.op, *step.operands(values[-1]))
        values.append(-1 if v is None or v < 0 else v)
    return values


# --------------------------------------------------------------------------- templates

Numbers = dict[str, int]
Draw = Callable[[random.Random], Numbers]


@dataclass(frozen=True)
class Template:
    question: str  # str.format over the drawn numbers
    draw: Draw
    steps: Callable[[Numbers], tuple[tuple[int | None, Op, int | None], ...]]


def _draw_bakery(r: random.Random) -> Numbers:
    a, b = r.randint(3, 12), r.randint(4, 12)
    return {"a": a, "b": b, "c": r.randint(2, a * b - 2)}


def _draw_shopping(r: random.Random) -> Numbers:
    a, b = r.randint(2, 9), r.randint(2, 9)
    bill = next(x for x in (20, 50, 100, 200) if x > a * b + 1)
    return {"a": a, "b": b, "c": bill}


def _draw_travel(r: random.Random) -> Numbers:
    return {"a": r.randint(3, 9) * 10, "b": r.randint(2, 6), "c": r.randint(5, 95)}


def _draw_savings(r: random.Random) -> Numbers:
    a, b = r.randint(5, 25), r.randint(3, 10)
    return {"a": a, "b": b, "c": r.randint(5, a * b - 5)}


def _draw_garden(r: random.Random) -> Numbers:
    a, b = r.randint(3, 9), r.randint(4, 12)
    return {"a": a, "b": b, "c": r.randint(1, a * b // 2), "d": r.randint(2, 20)}


def _draw_classroom(r: random.Random) -> Numbers:
    c = r.randint(2, 8)
    a = r.randint(2, 9)
    b = c * r.randint(2, 6)  # the total divides evenly among the students
    return {"a": a, "b": b, "c": c}


TEMPLATES: dict[str, Template] = {
    "bakery": Template(
        "A baker fills {a} trays with {b} rolls each and then sells {c} rolls. "
        "How many rolls are left?",
        _draw_bakery,
        lambda n: ((n["a"], "*", n["b"]), (None, "-", n["c"])),
    ),
    "shopping": Template(
        "Sam buys {a} notebooks that cost {b} dollars each and pays with a {c}-dollar bill. "
        "How many dollars of change does Sam get?",
        _draw_shopping,
        lambda n: ((n["a"], "*", n["b"]), (n["c"], "-", None)),
    ),
    "travel": Template(
        "A train travels at {a} kilometres per hour for {b} hours and then another {c} "
        "kilometres. How many kilometres does it travel in total?",
        _draw_travel,
        lambda n: ((n["a"], "*", n["b"]), (None, "+", n["c"])),
    ),
    "savings": Template(
        "Mia saves {a} dollars a week for {b} weeks and then spends {c} dollars. "
        "How many dollars does she have left?",
        _draw_savings,
        lambda n: ((n["a"], "*", n["b"]), (None, "-", n["c"])),
    ),
    "garden": Template(
        "A garden has {a} rows of {b} plants. {c} plants die and {d} new plants are "
        "planted. How many plants are in the garden now?",
        _draw_garden,
        lambda n: ((n["a"], "*", n["b"]), (None, "-", n["c"]), (None, "+", n["d"])),
    ),
    "classroom": Template(
        "There are {a} boxes with {b} pencils each. The pencils are shared equally among "
        "{c} students. How many pencils does each student get?",
        _draw_classroom,
        lambda n: ((n["a"], "*", n["b"]), (None, "/", n["c"])),
    ),
}


def _steps(template: Template, numbers: Numbers) -> tuple[Step, ...]:
    out: list[Step] = []
    for left, op, right in template.steps(numbers):
        previous = out[-1].value if out else 0
        v = apply(op, *Step(left, op, right, 0).operands(previous))
        assert v is not None and v >= 0, (template.question, numbers)
        out.append(Step(left, op, right, v))
    return tuple(out)


def _mistake(steps: tuple[Step, ...], rng: random.Random) -> tuple[int, int]:
    """A corrupted step-1 value and the answer it carries to (different from the true one)."""
    true_first, true_answer = steps[0].value, steps[-1].value
    last = steps[-1]
    unit = last.right if last.op == "/" and last.right is not None else 1  # divisions stay exact
    deltas = [d * unit for d in (1, 2, 3, 4, 5, 6, 10)]
    rng.shuffle(deltas)
    for d in deltas:
        for sign in (1, -1) if rng.random() < 0.5 else (-1, 1):
            first = true_first + sign * d
            if first <= 0:
                continue
            carried = propagate(steps, first)[-1]
            if carried >= 0 and carried != true_answer:
                return first, carried
    raise AssertionError("no admissible mistake")  # every template admits +unit


def _distractors(answer: int, mistake: int, rng: random.Random) -> list[int]:
    pool = [answer + d for d in (-20, -10, -2, -1, 1, 2, 10, 20)]
    rng.shuffle(pool)
    out = [mistake]
    for v in pool:
        if v > 0 and v != answer and v not in out:
            out.append(v)
        if len(out) == 3:
            break
    return out


def word_problem(family: str, seed: int, index: int) -> WordProblem:
    """Problem ``index`` of a family for a seed."""
    template = TEMPLATES[family]
    rng = random.Random(f"{seed}:wp:{family}:{index}")
    numbers = template.draw(rng)
    steps = _steps(template, numbers)
    first, carried = _mistake(steps, rng)
    answer = steps[-1].value
    options = [str(answer), *(str(x) for x in _distractors(answer, carried, rng))]
    item_id = f"wp-{family}-s{seed}-{index:03d}"
    random.Random(item_id).shuffle(options)
    item = Item(
        id=item_id,
        family=family,
        question=template.question.format(**numbers),
        answer=str(answer),
        options=tuple(options),
        difficulty=float(len(steps)),
        source="word_problems",
    )
    return WordProblem(item, steps, first, carried)


def word_problems(per_family: int, seed: int = 0) -> list[WordProblem]:
    """``per_family`` problems of every family."""
    if per_family < 0:
        raise ValueError("per_family must be >= 0")
    return [word_problem(f, seed, j) for f in TEMPLATES for j in range(per_family)]


def word_problem_items(per_family: int, seed: int = 0) -> list[Item]:
    return [wp.item for wp in word_problems(per_family, seed)]


_ID = re.compile(r"wp-([a-z_]+)-s(-?\d+)-(\d{3,})")


def word_problem_for(item: Item) -> WordProblem | None:
    """The problem behind a word-problem item (rebuilt from its id), None for other items or
    an item whose question is not the one its id names."""
    m = _ID.fullmatch(item.id)
    if m is None or m.group(1) not in TEMPLATES:
        return None
    wp = word_problem(m.group(1), int(m.group(2)), int(m.group(3)))
    return wp if wp.item.question == item.question else None
