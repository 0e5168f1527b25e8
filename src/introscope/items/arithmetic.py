"""Generated arithmetic: k-digit addition and multiplication, k the difficulty variable.

Deterministic from a seed: the same seed, family and k always give the same questions, so an
item id names one question forever.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from introscope.items.item import Item

OPERATIONS: dict[str, tuple[str, str]] = {
    "addition": ("plus", "add"),
    "multiplication": ("times", "mul"),
}


def arithmetic_items(
    per_family: int, seed: int = 0, digits: Sequence[int] = (1, 2, 3)
) -> list[Item]:
    """``per_family`` open questions per operation, spread evenly over the digit counts
    (``What is 47 plus 85?``); the answer is the exact result."""
    if per_family < 0:
        raise ValueError("per_family must be >= 0")
    out: list[Item] = []
    for family, (symbol, tag) in OPERATIONS.items():
        for j in range(per_family):
            k = digits[j % len(digits)]
            rng = random.Random(f"{seed}:{family}:{k}:{j // len(digits)}")
            lo, hi = (0 if k == 1 else 10 ** (k - 1)), 10**k - 1
            a, b = rng.randint(max(lo, 2), hi), rng.randint(max(lo, 2), hi)
            value = a + b if family == "addition" else a * b
            out.append(
                Item(
                    id=f"ar-{tag}-s{seed}-k{k}-{j // len(digits):03d}",
                    family=family,
                    question=f"What is {a} {symbol} {b}?",
                    answer=str(value),
                    options=None,
                    difficulty=float(k),
                    source="arithmetic",
                )
            )
    return out
