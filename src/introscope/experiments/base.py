"""What every experiment slice shares, and the declaration that makes a slice.

A slice is one package, ``introscope.experiments.<kind>``, that declares one
:class:`Experiment` (in the spirit of a task = dataset + solver + scorer with its metrics):

* ``params`` builds the experiment's own typed parameters from a :class:`~introscope.spec.Spec`
  and rejects values that mean nothing to it;
* ``solver`` returns the torch side: ``words_needed`` (concept vectors it needs),
  ``build_trials`` (the dataset: one :class:`Trial` per condition, with its prompt, injection
  and seed) and ``run_batch`` (one batched engine call or a few, plus rule grading). It is a
  factory called on first use, so importing the registry does not import torch;
* ``tables`` turns the run's trials into tidy DataFrames, ``headlines`` into summary rows,
  ``scorecard`` into its scorecard steps, ``figures`` into PNGs and ``sections`` into report
  sections. Each of these reads only the slice's own tables and, through ``needs``, the
  tables of the slices it declares.

The registry (:mod:`introscope.experiments`) lists the slices in scorecard order; it is the
only list of experiment kinds. ``docs/adding-an-experiment.md`` walks through a new slice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from introscope.errors import SpecError
from introscope.render.html import Section
from introscope.store import stable_hash
from introscope.tables import Headline, RunFrame, Tables
from introscope.words import word_list

if TYPE_CHECKING:
    from introscope.core.engine import Engine
    from introscope.core.models import LoadedModel
    from introscope.core.steering import Injection
    from introscope.core.vectors import VectorSet
    from introscope.spec import Spec


# --------------------------------------------------------------------------- parameters


class ExperimentParams(BaseModel):
    """Base of every experiment's typed parameters (built from a spec, frozen)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=ExperimentParams)

#: Spec fields whose meaning depends on the experiment, with their defaults. An experiment
#: that does not use one refuses a spec that sets it to anything else (see :func:`refuse_unused`).
EXPERIMENT_FIELDS: dict[str, Any] = {
    "grid.concepts": [],
    "grid.categories": [],
    "grid.n_concepts": None,
    "grid.layers": [0.67],
    "grid.strengths": [4.0],
    "grid.controls": ["concept"],
    "grid.variants": ["default"],
    "trials_per_cell": 1,
    "control_trials": 0,
    "params": {},
}


def spec_value(spec: Spec, path: str) -> Any:
    obj: Any = spec
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def refuse_unused(spec: Spec, used: Sequence[str]) -> None:
    """Raise :class:`SpecError` for an experiment-dependent field that ``spec.experiment``
    does not use but that is set to something other than its default (it would otherwise be
    dropped silently)."""
    for path, default in EXPERIMENT_FIELDS.items():
        if path in used:
            continue
        value = spec_value(spec, path)
        if value != default:
            raise SpecError(
                f"{path}: the {spec.experiment} experiment does not use this setting "
                f"(it is {value!r}; leave it out)."
            )


def refuse_values(path: str, values: Sequence[Any], allowed: Sequence[Any], kind: str) -> None:
    """Raise :class:`SpecError` naming the first of ``values`` not in ``allowed``."""
    for v in values:
        if v not in allowed:
            raise SpecError(
                f"{path}: {v!r} is not a value the {kind} experiment knows; "
                f"use {', '.join(repr(a) for a in allowed)}."
            )


def spec_concepts(spec: Spec) -> list[str]:
    """Concepts named by the grid (explicit words, then categories), or the paper's 50."""
    words = list(spec.grid.concepts)
    for cat in spec.grid.categories:
        words += word_list(cat)
    if not words:
        words = word_list("main")
    words = list(dict.fromkeys(words))
    return words[: spec.grid.n_concepts] if spec.grid.n_concepts else words


# --------------------------------------------------------------------------- trials


@dataclass
class Trial:
    """One trial: its identity (id, cell, condition, seed), inputs and the two keys every
    experiment fills the same way: ``concept`` (the concept the trial is about) and
    ``control`` (the kind of injection or instruction: concept, random, negated, none...)."""

    trial_id: str
    cell_id: str
    condition: dict[str, Any]
    prompt: str
    injection: Injection | None
    seed: int
    data: dict[str, Any] = field(default_factory=dict)  # experiment-specific inputs
    concept: str | None = None
    control: str | None = None


@dataclass
class TrialResult:
    """What a solver returns per trial. ``readout`` holds the experiment's numbers read from
    the model (P(yes), ranks, cosines ...); the store keeps it in its ``logits`` column."""

    response: str | None = None
    n_response_tokens: int | None = None
    readout: dict[str, Any] | None = None
    grades: dict[str, Any] = field(default_factory=dict)


def make_trial(
    spec: Spec,
    condition: dict[str, Any],
    prompt: str,
    injection: Injection | None,
    data: dict[str, Any] | None = None,
    *,
    concept: str | None = None,
    control: str | None = None,
) -> Trial:
    """Trial id = hash of (spec name, experiment, measure, condition); seed = hash of (spec
    seed, trial id).

    Both depend only on the trial itself, never on batch position, so a resumed or re-batched
    run reproduces every trial exactly.
    """
    cell = {k: v for k, v in condition.items() if k != "rep"}
    key = {"spec": spec.name, "experiment": spec.experiment, "measure": spec.measure}
    trial_id = stable_hash({**key, **condition})[:20]
    cell_id = stable_hash({**key, **cell})[:12]
    seed = int(stable_hash([spec.seed, trial_id])[:8], 16)
    return Trial(
        trial_id, cell_id, condition, prompt, injection, seed, data or {}, concept, control
    )


@dataclass
class Context(Generic[P]):
    """Everything a solver needs: the spec, its typed parameters, the model, the engine,
    the run's concept vectors and the run directory (None outside a run), where a solver
    keeps arrays too large for the store (``run_dir/arrays/``)."""

    spec: Spec
    params: P
    lm: LoadedModel
    engine: Engine
    vectors: VectorSet
    run_dir: Path | None = None


class Solver(Protocol[P]):
    """The torch side of a slice: the dataset and the batched solver."""

    def words_needed(self, params: P) -> list[str]: ...

    def build_trials(self, ctx: Context[P]) -> list[Trial]: ...

    def run_batch(self, ctx: Context[P], trials: Sequence[Trial]) -> list[TrialResult]: ...


# --------------------------------------------------------------------------- scorecard


@dataclass(frozen=True)
class Selection:
    """The configuration the scorecard's later steps reuse (chosen by the detection slice)."""

    layer: int | None
    strength: float | None
    source: str  # "text" or "logits"
    k: int  # configurations that competed in the selection


@dataclass(frozen=True)
class ScoreInputs:
    """What a slice's scorecard step reads: its own tables, the tables of the slices it
    needs, and the configuration selected earlier in the scorecard (None if none)."""

    tables: Tables
    upstream: Mapping[str, Tables]
    selection: Selection | None


# --------------------------------------------------------------------------- the declaration

Upstream = Mapping[str, Tables]


def no_headlines(_tables: Tables, _upstream: Upstream) -> list[Headline]:
    return []


def no_figures(_tables: Tables, _directory: Path) -> dict[str, Path]:
    return {}


def no_sections(_tables: Tables, _figures: Mapping[str, Path]) -> list[Section]:
    return []


@dataclass(frozen=True)
class Experiment:
    """One slice. See the module docstring for what each part does."""

    kind: str
    title: str
    description: str  # one sentence, for CLI help and the docs
    package: str  # the slice's package name (its presets ship there)
    params: Callable[[Spec], ExperimentParams]
    solver: Callable[[], Solver[Any]]
    tables: Callable[[RunFrame, Upstream], Tables]
    measures: tuple[str, ...] = ("generation", "logits")
    needs: tuple[str, ...] = ()
    headlines: Callable[[Tables, Upstream], list[Headline]] = no_headlines
    steps: Mapping[int, str] = field(default_factory=dict)  # scorecard step -> its title
    # The scorecard part its steps belong to ("injected thoughts": steps 1-9; new suites
    # number their steps in their own hundred, e.g. metacognition 101-106).
    scorecard_part: str = "injected thoughts"
    scorecard: Callable[[ScoreInputs], list[Headline]] | None = None
    select: Callable[[Tables], Selection | None] | None = None
    figures: Callable[[Tables, Path], dict[str, Path]] = no_figures
    sections: Callable[[Tables, Mapping[str, Path]], list[Section]] = no_sections

    def preset_files(self) -> dict[str, str]:
        """The slice's single-spec presets: name -> TOML text (``presets/*.toml``)."""
        folder = resources.files(self.package).joinpath("presets")
        if not folder.is_dir():
            return {}
        return {
            p.name.removesuffix(".toml"): p.read_text(encoding="utf-8")
            for p in sorted(folder.iterdir(), key=lambda x: x.name)
            if p.name.endswith(".toml")
        }

    def battery_text(self) -> str | None:
        """The slice's battery parts (``battery.toml``: one table per part), if any."""
        res = resources.files(self.package).joinpath("battery.toml")
        return res.read_text(encoding="utf-8") if res.is_file() else None
