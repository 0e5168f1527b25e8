"""Declarative experiment specs (TOML, validated with pydantic).

A spec names a model, an experiment kind, a factorial grid of conditions, trials per cell,
the measure (free generation or logit readout), sampling settings, graders and a seed.
Presets ship in ``introscope/presets/*.toml``; any preset can be overridden from the CLI
(``--layers 0.5,0.67 --strengths 1,2,4 --trials 20``). Unknown keys and bad values are
:class:`~introscope.errors.SpecError`s naming the file and the key path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import tomllib
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from introscope.errors import IntroscopeError, SpecError
from introscope.experiments import EXPERIMENTS, REGISTRY
from introscope.experiments.base import ExperimentParams, spec_concepts
from introscope.grading.endpoint import key_env_problem
from introscope.words import word_list

Measure = Literal["generation", "logits"]
Control = Literal["concept", "random", "negated", "other", "matched_random", "none"]
#: ``multiplier``: a strength multiplies the concept vector (the paper's unit).
#: ``residual_norm``: a strength is the injected vector's norm as a fraction of the mean norm
#: of the residual stream at the layer, measured per model, so strengths compare across models.
StrengthUnit = Literal["multiplier", "residual_norm"]

#: Most trials one run may hold: a grid larger than this is almost surely a typo, and its
#: trial list alone would fill the memory.
MAX_TRIALS = 1_000_000


class _Strict(BaseModel):
    # strict: TOML already has types, so "3" or true where a number belongs is a mistake to
    # report, not to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Grid(_Strict):
    """The factorial grid. ``concepts`` and ``categories`` are unioned (paper word lists)."""

    concepts: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    n_concepts: int | None = Field(default=None, ge=1, description="Keep the first N concepts")
    layers: list[int | float | str] = Field(default_factory=lambda: [0.67])  # type: ignore[arg-type]
    strengths: list[float] = Field(default_factory=lambda: [4.0])
    controls: list[Control] = Field(default_factory=lambda: ["concept"])  # type: ignore[arg-type]
    variants: list[str] = Field(default_factory=lambda: ["default"])
    strength_unit: StrengthUnit = "multiplier"

    @model_serializer(mode="wrap")
    def _omit_default_unit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Specs written before strength units existed must keep their digest (a run directory
        # resumes only the specs that made it), so the default unit is left out of dumps.
        data: dict[str, Any] = handler(self)
        if data.get("strength_unit") == "multiplier":
            del data["strength_unit"]
        return data

    @field_validator("controls")
    @classmethod
    def _some_controls(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one control (concept, random, negated or none)")
        return v

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, v: list[str]) -> list[str]:
        for name in v:
            try:
                word_list(name)
            except IntroscopeError:
                raise ValueError(f"unknown category {name!r}") from None
        return v

    @field_validator("strengths")
    @classmethod
    def _finite(cls, v: list[float]) -> list[float]:
        for s in v:
            if s != s or s in (float("inf"), float("-inf")):
                raise ValueError("strengths must be finite numbers")
        if not v:
            raise ValueError("give at least one strength")
        return v

    @field_validator("layers")
    @classmethod
    def _layers(cls, v: list[int | float | str]) -> list[int | float | str]:
        if not v:
            raise ValueError("give at least one layer")
        return v


class Sampling(_Strict):
    max_new_tokens: int = Field(default=48, ge=1, le=4096)
    temperature: float = Field(default=1.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)


JudgeCriterion = Literal[
    "coherent", "affirmative", "correct_concept", "noticed_first", "apology", "mentions_hint"
]
# Every injected-thought rubric by default: each experiment asks those that apply to it
# (detection's four make its judge success; prefill's apology and coherent), see
# introscope.grading.regrade. ``mentions_hint`` is cot_hints' own and asked for by name.
DEFAULT_JUDGE_CRITERIA: list[JudgeCriterion] = [
    "coherent",
    "affirmative",
    "correct_concept",
    "noticed_first",
    "apology",
]


class JudgeSpec(_Strict):
    base_url: str
    model: str
    api_key_env: str | None = "INTROSCOPE_JUDGE_API_KEY"
    criteria: list[JudgeCriterion] = Field(default_factory=lambda: list(DEFAULT_JUDGE_CRITERIA))
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    max_retries: int = Field(default=3, ge=0, le=10)

    @field_validator("api_key_env")
    @classmethod
    def _key_name(cls, v: str | None) -> str | None:
        # A shared spec must not be able to send an unrelated secret to its endpoint.
        problem = key_env_problem(v) if v else None
        if problem is not None:
            raise ValueError(problem)
        return v


class Primary(_Strict):
    """The configuration an experiment's headline reads, declared before the run (TOML
    ``primary = {layer = 0.67, strength = 4}``). Without it the configuration is chosen on
    half the concepts and estimated on the other half (``docs/statistics.md``). ``layer`` is
    written as in ``grid.layers`` and must be one of them; ``strength`` likewise (left out
    by experiments without strengths)."""

    layer: int | float | str
    strength: float | None = None


class Spec(_Strict):
    name: str = Field(min_length=1)
    experiment: str  # a kind of the registry (introscope.experiments)
    model: str = "bundled"
    grid: Grid = Field(default_factory=Grid)
    trials_per_cell: int = Field(default=1, ge=1)
    control_trials: int = Field(default=0, ge=0, description="No-injection trials (detection)")
    measure: Measure = "generation"
    sampling: Sampling = Field(default_factory=Sampling)
    graders: list[Literal["rules", "judge"]] = Field(default_factory=lambda: ["rules"])  # type: ignore[arg-type]
    judge: JudgeSpec | None = None
    seed: int = 0
    # A number of trials per batch, or "auto": the runner sizes it from the model and the
    # free memory once, records it in the manifest and reuses it on resume (docs/engine.md §8).
    batch_size: int | Literal["auto"] = 16
    device: str = "auto"
    dtype: str = "auto"
    primary: Primary | None = None
    # Experiment-specific settings (a [params] table), validated by the experiment's own
    # parameters; an experiment that reads none refuses a non-empty table.
    params: dict[str, Any] = Field(default_factory=dict)

    # The engine's fast mode (bfloat16, no bit-exactness; docs/engine.md §7).
    fast: bool = False

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, v: Any) -> Any:
        if v == "auto":
            return v
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1024:
            raise ValueError(f'must be a whole number from 1 to 1024 or "auto", not {v!r}')
        return v

    @property
    def fixed_batch_size(self) -> int:
        """The batch size as a number (the runner resolves ``"auto"`` before any trial)."""
        if isinstance(self.batch_size, int):
            return self.batch_size
        raise SpecError(f'Spec {self.name!r}: batch_size = "auto" was not resolved to a number.')

    @model_serializer(mode="wrap")
    def _leave_out_unset_fields(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A spec without a declared configuration or [params] table dumps (and so digests,
        # and names its trials) exactly as before those fields existed: old run directories
        # still resume.
        data = handler(self)
        if isinstance(data, dict) and data.get("primary") is None:
            data.pop("primary", None)
        if isinstance(data, dict) and not data.get("params"):
            data.pop("params", None)
        return data

    def digest(self) -> str:
        """Identity of the spec: a run directory only resumes the specs that created it."""
        return dump_digest(self.model_dump(mode="json"))


def dump_digest(dump: Any) -> str:
    """The digest of a spec's JSON dump (as a manifest stores it). ``fast = false`` is left
    out, so exact-mode specs keep the digests they had before fast mode existed."""
    if isinstance(dump, dict) and dump.get("fast") is False:
        dump = {k: v for k, v in dump.items() if k != "fast"}
    text = json.dumps(dump, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate_spec(data: dict[str, Any], source: str) -> Spec:
    """A :class:`Spec` from parsed TOML, checked against the experiment it names (its kind,
    measure and parameters); every problem is one :class:`SpecError` naming ``source``."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        raise SpecError(f"{source}: {_loc(tuple(err['loc']))}: {msg}{more}.") from None
    if spec.experiment not in EXPERIMENTS:
        raise SpecError(
            f"{source}: experiment: unknown experiment {spec.experiment!r}; known: "
            f"{', '.join(EXPERIMENTS)}."
        )
    exp = EXPERIMENTS[spec.experiment]
    if spec.measure not in exp.measures:
        raise SpecError(
            f"{source}: measure: the {spec.experiment} experiment reads out "
            f"{' or '.join(exp.measures)}, not {spec.measure!r}."
        )
    try:
        exp.params(spec)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None
    except ValidationError as exc:
        raise SpecError(f"{source}: {exc.errors()[0]['msg']}.") from None
    if "judge" in spec.graders and spec.judge is None:
        raise SpecError(
            f"{source}: graders: 'judge' needs a [judge] table with base_url and model."
        )
    if spec.grid.strength_unit != "multiplier" and not exp.relative_strengths:
        raise SpecError(
            f"{source}: grid.strength_unit: the {spec.experiment} experiment takes strengths "
            "as multipliers only; leave strength_unit out."
        )
    n = grid_size(spec)
    if n > MAX_TRIALS:
        raise SpecError(
            f"{source}: the grid expands to about {n:,} trials, more than the {MAX_TRIALS:,} "
            "one run may hold; shrink the grid or split it over several runs."
        )
    return spec


def grid_size(spec: Spec) -> int:
    """An upper bound on the trials ``spec`` expands to (every grid axis multiplied, plus
    the no-injection trials), cheap enough to check before anything is built."""
    g = spec.grid
    cells = len(spec_concepts(spec)) * len(g.layers) * len(g.strengths)
    cells *= len(g.controls) * len(g.variants)
    return cells * spec.trials_per_cell + spec.control_trials


def refuse_empty_lists(data: dict[str, Any], source: str) -> None:
    """An explicit empty concept, category or control list is a mistake (left out, the
    concepts default to the paper's 50); say so instead of running the default."""
    grid = data.get("grid")
    if not isinstance(grid, dict):
        return
    for key in ("concepts", "categories", "controls"):
        if grid.get(key) == []:
            raise SpecError(
                f"{source}: grid.{key}: the list is empty; give at least one entry or leave "
                "the key out."
            )


def spec_params(spec: Spec) -> ExperimentParams:
    """The typed parameters of the experiment ``spec`` names."""
    return EXPERIMENTS[spec.experiment].params(spec)


def presets() -> dict[str, str]:
    """Every shipped single-spec preset, name -> TOML text, from the slices in registry
    order."""
    out: dict[str, str] = {}
    for exp in REGISTRY:
        out.update(exp.preset_files())
    return out


def preset_names() -> list[str]:
    """Names of the shipped single-spec presets (each loads with :func:`load_spec`)."""
    return sorted(presets())


def load_spec(spec_or_preset: str) -> Spec:
    """Load a spec file, or a shipped preset by name."""
    path = Path(spec_or_preset)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise SpecError(f"Spec file {spec_or_preset!r} does not exist.")
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError as exc:
            raise SpecError(
                f"{path}: not UTF-8 text (byte {exc.start}); save the spec as UTF-8."
            ) from None
    else:
        if spec_or_preset == "battery":
            raise SpecError(
                "'battery' is not a single-spec preset (use `introscope battery`); presets: "
                f"{', '.join(preset_names())}."
            )
        shipped = presets()
        if spec_or_preset not in shipped:
            raise SpecError(
                f"{spec_or_preset!r} is neither a spec file nor a preset; presets: "
                f"{', '.join(sorted(shipped))}."
            )
        text, source = shipped[spec_or_preset], f"preset {spec_or_preset}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML ({exc}).") from None
    refuse_empty_lists(data, source)
    return validate_spec(data, source)


def parse_batch_size(text: str | None) -> int | Literal["auto"] | None:
    """``--batch-size``: a whole number or ``auto``."""
    if text is None:
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise SpecError(f'--batch-size {text!r} is neither a whole number nor "auto".') from None


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def override(
    spec: Spec,
    *,
    layers: str | None = None,
    strengths: str | None = None,
    trials: int | None = None,
    concepts: str | None = None,
    n_concepts: int | None = None,
    controls: str | None = None,
    model: str | None = None,
    measure: str | None = None,
    batch_size: int | Literal["auto"] | None = None,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    control_trials: int | None = None,
    strength_unit: str | None = None,
    fast: bool | None = None,
) -> Spec:
    """Apply CLI overrides and re-validate (so bad overrides get the same messages)."""
    data = spec.model_dump(mode="json")
    grid = data["grid"]
    if layers is not None:
        grid["layers"] = [_num(x) for x in _split(layers)]
    if strengths is not None:
        try:
            grid["strengths"] = [float(x) for x in _split(strengths)]
        except ValueError:
            raise SpecError(
                f"--strengths {strengths!r} is not a comma-separated list of numbers."
            ) from None
    if concepts is not None:
        if not _split(concepts):
            raise SpecError(f"--concepts {concepts!r} names no concept.")
        grid["concepts"], grid["categories"] = _split(concepts), []
    if n_concepts is not None:
        grid["n_concepts"] = n_concepts
    if controls is not None:
        grid["controls"] = _split(controls)
    if strength_unit is not None:
        grid["strength_unit"] = strength_unit
    for key, value in (
        ("trials_per_cell", trials),
        ("model", model),
        ("measure", measure),
        ("batch_size", batch_size),
        ("seed", seed),
        ("control_trials", control_trials),
        ("fast", fast),
    ):
        if value is not None:
            data[key] = value
    if max_new_tokens is not None:
        data["sampling"]["max_new_tokens"] = max_new_tokens
    if temperature is not None:
        data["sampling"]["temperature"] = temperature
    return validate_spec(data, "command-line overrides")


def _num(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
