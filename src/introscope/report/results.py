"""Every slice's tables, computed once, in registry order.

A slice's analysis that raises is not hidden: its error is kept with the slice's name
(:class:`SliceFailure`), the report shows it in red, and the commands exit non-zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from introscope.errors import AnalysisError, StoreError
from introscope.experiments import REGISTRY, step_parts
from introscope.experiments.base import Experiment, ScoreInputs, Selection
from introscope.headlines import Headline
from introscope.store import load_run, read_manifest
from introscope.tables import RunFrame, Tables


@dataclass(frozen=True)
class SliceFailure:
    kind: str
    stage: str  # "tables", "headlines", "scorecard", "figures" or "sections"
    error: str  # "ValueError: ..."

    def message(self) -> str:
        return f"the {self.kind} analysis failed ({self.stage}): {self.error}"


@dataclass
class RunResults:
    """A run's trials and every slice's tables."""

    run: RunFrame
    manifest: Mapping[str, Any]
    tables: dict[str, Tables] = field(default_factory=dict)
    failures: list[SliceFailure] = field(default_factory=list)

    def ran(self, exp: Experiment) -> bool:
        """The run holds trials of this slice (or of a slice it reads)."""
        return any(self.run.has(k) for k in (exp.kind, *exp.needs))

    def upstream(self, exp: Experiment) -> dict[str, Tables]:
        return {k: self.tables[k] for k in exp.needs if k in self.tables}

    def failed(self, kind: str) -> SliceFailure | None:
        return next((f for f in self.failures if f.kind == kind), None)

    def fail(self, exp: Experiment, stage: str, exc: Exception) -> SliceFailure:
        first = (str(exc).strip().splitlines() or [""])[0]
        failure = SliceFailure(exp.kind, stage, f"{type(exc).__name__}: {first}".rstrip(": "))
        self.failures.append(failure)
        return failure

    def raise_failures(self) -> None:
        """Raise one :class:`AnalysisError` naming every slice that failed."""
        if self.failures:
            raise AnalysisError("; ".join(f.message() for f in self.failures) + ".")


def analyse(run: RunFrame, manifest: Mapping[str, Any] | None = None) -> RunResults:
    """Every slice's tables, in registry order (a slice sees the tables of its ``needs``)."""
    results = RunResults(run, manifest or {})
    for exp in REGISTRY:
        missing = [k for k in exp.needs if k not in results.tables]
        if missing:
            results.fail(exp, "tables", AnalysisError(f"needs {', '.join(missing)}, which failed"))
            continue
        try:
            results.tables[exp.kind] = exp.tables(run, results.upstream(exp))
        except Exception as exc:  # kept and shown with the slice's name, never hidden
            results.fail(exp, "tables", exc)
    return results


def load_results(run_dir: Path | str) -> RunResults:
    """:func:`analyse` of a run directory."""
    run_dir = Path(run_dir)
    df = load_run(run_dir)
    try:
        manifest: Mapping[str, Any] = read_manifest(run_dir)
    except StoreError:  # a run directory with a database but no manifest
        manifest = {}
    return analyse(RunFrame(df, run_dir, manifest), manifest)


def headlines(results: RunResults) -> list[Headline]:
    """Every slice's summary rows, in registry order."""
    out: list[Headline] = []
    for exp in REGISTRY:
        if exp.kind not in results.tables:
            continue
        try:
            out += exp.headlines(results.tables[exp.kind], results.upstream(exp))
        except Exception as exc:
            results.fail(exp, "headlines", exc)
    return out


def select_configuration(results: RunResults) -> Selection | None:
    """The configuration later steps reuse, chosen by the first slice that declares
    ``select`` (before any step is computed, so that step 0 can read it too)."""
    for exp in REGISTRY:
        if exp.select is None or exp.scorecard is None or results.failed(exp.kind):
            continue
        try:
            selection = exp.select(results.tables[exp.kind])
        except Exception as exc:  # kept and shown with the slice's name (its steps fail)
            results.fail(exp, "scorecard", exc)
            continue
        if selection is not None:
            return selection
    return None


def scorecard_lines(results: RunResults) -> list[Headline]:
    """The scorecard: every slice's steps, ordered by step number. The first slice that
    declares ``select`` chooses the configuration later steps reuse. A slice's ``gate`` that
    fails (the positive control) prefixes every later available line of its scorecard part
    with its words."""
    selection = select_configuration(results)
    lines: list[Headline] = []
    gates: list[Gate] = []
    for exp in REGISTRY:
        if exp.scorecard is None:
            continue
        failure = results.failed(exp.kind)
        if failure is None:
            t = results.tables[exp.kind]
            try:
                inputs = ScoreInputs(t, results.upstream(exp), selection)
                lines += exp.scorecard(inputs)
                words = exp.gate(inputs) if exp.gate is not None else None
                if words:
                    gates.append(Gate(max(exp.steps, default=0), exp.scorecard_part, words))
                continue
            except Exception as exc:  # kept and shown with the slice's name
                failure = results.fail(exp, "scorecard", exc)
        lines += [
            Headline(
                title,
                float("nan"),
                float("nan"),
                float("nan"),
                0,
                f"Analysis failed: {failure.message()}.",
                step=step,
                available=False,
            )
            for step, title in exp.steps.items()
        ]
    parts = step_parts()
    lines = [gated(ln, gates, parts) for ln in lines]
    return sorted(lines, key=lambda ln: ln.step or 0)  # stable: keeps the order within a step


@dataclass(frozen=True)
class Gate:
    """A failed precondition: the step that failed, its scorecard part, and the words every
    later line of that part starts with."""

    step: int
    part: str
    words: str


def gated(line: Headline, gates: list[Gate], parts: Mapping[int, str]) -> Headline:
    """``line`` with the words of every failed gate of an earlier step of the same scorecard
    part in front of its sentence (lines that are not available make no claim and are left
    alone)."""
    if not line.available:
        return line
    step = line.step or 0
    words = [g.words for g in gates if step > g.step and parts.get(step) == g.part]
    if not words:
        return line
    return replace(line, sentence=" ".join([*words, line.sentence]))
