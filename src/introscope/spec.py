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

from introscope.errors import SpecError
from introscope.experiments import EXPERIMENTS, REGISTRY
from introscope.experiments.base import ExperimentParams

Measure = Literal["generation", "logits"]
Control = Literal["concept", "random", "negated", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grid(_Strict):
    """The factorial grid. ``concepts`` and ``categories`` are unioned (paper word lists)."""

    concepts: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    n_concepts: int | None = Field(default=None, ge=1, description="Keep the first N concepts")
    layers: list[int | float | str] = Field(default_factory=lambda: [0.67])  # type: ignore[arg-type]
    strengths: list[float] = Field(default_factory=lambda: [4.0])
    controls: list[Control] = Field(default_factory=lambda: ["concept"])  # type: ignore[arg-type]
    variants: list[str] = Field(default_factory=lambda: ["default"])

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


class JudgeSpec(_Strict):
    base_url: str
    model: str
    api_key_env: str | None = "INTROSCOPE_JUDGE_API_KEY"
    criteria: list[str] = Field(default_factory=lambda: ["affirmative", "correct_concept"])
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0)


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
    batch_size: int = Field(default=16, ge=1, le=1024)
    device: str = "auto"
    dtype: str = "auto"
    # Experiment-specific settings (a [params] table), validated by the experiment's own
    # parameters; an experiment that reads none refuses a non-empty table.
    params: dict[str, Any] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_empty_params(self, handler: SerializerFunctionWrapHandler) -> Any:
        # An empty [params] table is left out of the dump, so the specs (and digests) of
        # runs made before the table existed are unchanged and those runs still resume.
        data = handler(self)
        if isinstance(data, dict) and not data.get("params"):
            data.pop("params", None)
        return data

    def digest(self) -> str:
        """Identity of the spec: a run directory only resumes the specs that created it."""
        return dump_digest(self.model_dump(mode="json"))


def dump_digest(dump: Any) -> str:
    """The digest of a spec's JSON dump (as a manifest stores it)."""
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
    return spec


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
        text, source = path.read_text(), str(path)
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
    return validate_spec(data, source)


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
    batch_size: int | None = None,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    control_trials: int | None = None,
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
        grid["concepts"], grid["categories"] = _split(concepts), []
    if n_concepts is not None:
        grid["n_concepts"] = n_concepts
    if controls is not None:
        grid["controls"] = _split(controls)
    for key, value in (
        ("trials_per_cell", trials),
        ("model", model),
        ("measure", measure),
        ("batch_size", batch_size),
        ("seed", seed),
        ("control_trials", control_trials),
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
