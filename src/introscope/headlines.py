"""The one :class:`Headline` type that the report and the scorecard read, and the helpers
that word a headline's sentence (intervals, configurations, percentages).

A slice's summary rows and its scorecard lines are Headlines; ``kind`` decides how the
number is printed (:mod:`introscope.render.numbers`), ``unit`` says what ``n`` counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from introscope.tables import NAN, clean, to_float

#: What a headline's number is, which decides how it is printed (:mod:`introscope.render`).
ValueKind = Literal[
    "rate",  # a proportion in [0, 1]
    "rate_difference",  # a difference of proportions
    "probability",  # a mean probability (P(yes))
    "shift",  # a difference of mean probabilities or scores
    "logodds",
    "bits",
    "correlation",
    "cosine",
    "coefficient",
    "strength",  # an injection strength (multiplier)
]


@dataclass(frozen=True)
class Headline:
    """One headline result: a summary row of a slice, or a line of the scorecard.

    ``n`` counts ``unit`` (trials, concepts, configurations ...). ``null`` is the value that
    means "no effect" (the forest plot draws it). ``step`` is the scorecard step the line
    belongs to (None for summary rows); ``available`` is False when the step's experiment was
    not run, and then ``sentence`` says why. ``low_trust`` marks a line built on a rule-grader
    criterion whose agreement with hand labels is below target (:func:`low_trust`).
    """

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    sentence: str
    unit: str = "trials"
    kind: ValueKind = "shift"
    config: str = ""
    step: int | None = None
    available: bool = True
    null: float = 0.0
    low_trust: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "name": self.name,
            "estimate": none_if_nan(self.estimate),
            "ci_low": none_if_nan(self.ci_low),
            "ci_high": none_if_nan(self.ci_high),
            "n": self.n,
            "unit": self.unit,
            "kind": self.kind,
            "config": self.config,
            "available": self.available,
            "null": self.null,
            "low_trust": self.low_trust,
            "sentence": self.sentence,
        }


def none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else x


def headline_from_row(
    name: str,
    row: Mapping[str, Any],
    col: str,
    sentence: str,
    *,
    n: Any = None,
    unit: str = "trials",
    kind: ValueKind = "shift",
    config: str = "",
    step: int | None = None,
    null: float = 0.0,
) -> Headline:
    """The headline for column family ``col`` of a table row (``col``, ``col_ci_low``,
    ``col_ci_high``, ``col_n``); ``n`` overrides the row's ``col_n``."""
    count = to_float(n if n is not None else row.get(f"{col}_n"))
    return Headline(
        name,
        to_float(row.get(col)),
        to_float(row.get(f"{col}_ci_low")),
        to_float(row.get(f"{col}_ci_high")),
        0 if math.isnan(count) else int(count),
        sentence,
        unit,
        kind,
        config,
        step,
        True,
        null,
    )


def low_trust(line: Headline, note: str) -> Headline:
    """``line`` marked low-trust with ``note`` (a sentence saying why) appended; unchanged
    when ``note`` is empty or the line is not available."""
    if not note or not line.available:
        return line
    return replace(line, sentence=line.sentence + note, low_trust=True)


def not_run(step: int, name: str, why: str, prefix: str = "Not run") -> Headline:
    """A scorecard line for a step that cannot be computed from this run."""
    return Headline(name, NAN, NAN, NAN, 0, f"{prefix}: {why}", step=step, available=False)


def step_lines(
    step: int,
    title: str,
    what: str,
    lines: Sequence[Headline],
    limit: int = 4,
    config: str = "",
) -> list[Headline]:
    """Scorecard step ``step`` made of a slice's headline rows (steps 6-9 are read this way).

    The first ``limit`` rows become the step's lines. A row counting no ``n`` is not
    available, and its sentence starts with "Not run: " (added unless it already says so).
    Without any row the step gets one line named ``title``: "Not run: the run has no
    ``what`` trials." ``config`` fills the lines that name no configuration.
    """
    if not lines:
        return [not_run(step, title, f"the run has no {what} trials.")]
    out = []
    for ln in lines[:limit]:
        available = ln.n > 0
        sentence = ln.sentence
        if not available and not sentence.lower().startswith("not run"):
            sentence = f"Not run: {sentence}" if sentence else f"Not run: no {what} trials."
        out.append(
            replace(
                ln, step=step, available=available, sentence=sentence, config=ln.config or config
            )
        )
    return out


# --------------------------------------------------------------------------- wording


def fmt_num(x: Any) -> str:
    v = clean(x)
    if v is None:
        return "-"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def cfg_text(layer: Any, strength: Any) -> str:
    """``layer 15, strength 4`` (whichever is set), or ``all configurations``."""
    parts = []
    if clean(layer) is not None:
        parts.append(f"layer {fmt_num(layer)}")
    if clean(strength) is not None:
        parts.append(f"strength {fmt_num(strength)}")
    return ", ".join(parts) if parts else "all configurations"


def ci_text(est: Any, lo: Any, hi: Any, signed: bool = True, dec: int = 2) -> str:
    """``+0.12 [+0.03, +0.21]``; ``n/a`` for a missing estimate; an undefined interval is
    printed as ``nan`` bounds (tables) -- see :func:`ci_or_none` for sentences."""
    e, a, b = to_float(est), to_float(lo), to_float(hi)
    if math.isnan(e):
        return "n/a"
    f = ("{:+." if signed else "{:.") + f"{dec}f}}"
    lo_s = "nan" if math.isnan(a) else f.format(a)
    hi_s = "nan" if math.isnan(b) else f.format(b)
    return f"{f.format(e)} [{lo_s}, {hi_s}]"


def ci_or_none(
    est: Any, lo: Any, hi: Any, signed: bool = True, dec: int = 2, unit: str = "trials"
) -> str:
    """Like :func:`ci_text`, but an undefined interval reads "(no interval: too few
    trials)" (or the ``unit`` the interval counts) instead of nan bounds."""
    e, a, b = to_float(est), to_float(lo), to_float(hi)
    if math.isnan(e):
        return "n/a"
    f = ("{:+." if signed else "{:.") + f"{dec}f}}"
    if math.isnan(a) or math.isnan(b):
        return f"{f.format(e)} (no interval: too few {unit})"
    return f"{f.format(e)} [{f.format(a)}, {f.format(b)}]"


def undetermined(unit: str = "concepts") -> str:
    """The verdict of an interval that could not be computed (no final period: callers
    place it mid-sentence or end the sentence themselves)."""
    return f"undetermined (no interval: too few {unit})"


def verdict(
    low: Any,
    high: Any,
    above: str,
    covers: str,
    below: str | None = None,
    unit: str = "concepts",
    null: float = 0.0,
) -> str:
    """The reading an interval licenses: ``above`` when it lies above ``null``, ``below``
    (``covers`` when not given) when it lies below, ``covers`` when it contains ``null``, and
    :func:`undetermined` when a bound is NaN -- an undefined interval is never read as "no
    effect" (nor as an effect)."""
    lo, hi = to_float(low), to_float(high)
    if math.isnan(lo) or math.isnan(hi):
        return undetermined(unit)
    if lo > null:
        return above
    if hi < null:
        return covers if below is None else below
    return covers


def pct(x: Any) -> str:
    v = to_float(x)
    return "n/a" if math.isnan(v) else f"{100 * v:.0f}%"


def post_hoc(k: int) -> str:
    return f" (the largest of {k} configurations, selected after the fact)" if k > 1 else ""


def excludes_zero(low: Any) -> bool:
    """True when an interval's lower bound is above 0 (NaN: undetermined, not above)."""
    v = to_float(low)
    return not math.isnan(v) and v > 0


def ci_sign(low: Any, high: Any) -> int:
    """+1 when an interval lies above 0, -1 when below, 0 when it covers 0 or a bound is
    undefined."""
    lo, hi = to_float(low), to_float(high)
    if math.isnan(lo) or math.isnan(hi):
        return 0
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def p_text(p: Any) -> str:
    """A p-value for a sentence: three decimals, "< 0.001" below that, "n/a" when missing."""
    v = to_float(p)
    return "n/a" if math.isnan(v) else (f"{v:.3f}" if v >= 0.001 else "< 0.001")
