"""A study: several models, the same experiments, one run directory per model.

A study file is TOML::

    name = "small-models"                      # default: the file's name
    models = ["bundled", "models/tiny-llama", "Qwen/Qwen2.5-0.5B-Instruct", "x.gguf"]
    battery = true                             # the battery (optionally only some parts)...
    parts = ["detection_logits"]
    scale = 0.5
    presets = ["detection_logits", "my.toml"]  # ...and/or presets and spec files
    seed = 0
    device = "auto"
    dtype = "auto"
    device_map = "auto"    # models larger than one GPU: spread over the worker's GPUs

    [override]             # applied to every spec (same names as `introscope run` options)
    strengths = [0.25, 0.5, 1.0]
    strength_unit = "residual_norm"            # comparable strengths across models

Relative paths (models, spec files) are read from the study file's folder. Each model's
run directory is ``STUDY_DIR/<model slug>``; ``study.json`` lists them, and ``introscope
compare STUDY_DIR`` reads it. Models run one after another on the chosen executor (with
Ray, each model's batches spread over all actors); a model that fails does not stop the
others, and the study then fails naming it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from introscope.battery import battery_specs
from introscope.errors import IntroscopeError, SpecError
from introscope.spec import Spec, load_spec, validate_spec
from introscope.store import atomic_write_text

STUDY_NAME = "study.json"


class Override(BaseModel):
    """Values applied to every spec of the study (each spec is validated again after)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    layers: list[int | float | str] | None = None
    strengths: list[float] | None = None
    strength_unit: Literal["multiplier", "residual_norm"] | None = None
    concepts: list[str] | None = None
    n_concepts: int | None = Field(default=None, ge=1)
    controls: list[str] | None = None
    trials_per_cell: int | None = Field(default=None, ge=1)
    control_trials: int | None = Field(default=None, ge=0)
    measure: Literal["generation", "logits"] | None = None
    batch_size: int | Literal["auto"] | None = None  # checked by the spec it is applied to
    max_new_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0)

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        grid, sampling = dict(data.get("grid", {})), dict(data.get("sampling", {}))
        for key in ("layers", "strengths", "strength_unit", "n_concepts", "controls"):
            if getattr(self, key) is not None:
                grid[key] = getattr(self, key)
        if self.concepts is not None:
            grid["concepts"], grid["categories"] = self.concepts, []
        for key in ("max_new_tokens", "temperature"):
            if getattr(self, key) is not None:
                sampling[key] = getattr(self, key)
        out = {**data, "grid": grid, "sampling": sampling}
        for key in ("trials_per_cell", "control_trials", "measure", "batch_size"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


class StudyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # A folder name (the default study directory is runs/NAME): no separators, no "..".
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    models: list[str] = Field(min_length=1)
    battery: bool = False
    parts: list[str] | None = None
    scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    presets: list[str] = Field(default_factory=list)
    seed: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    device_map: str | None = None
    override: Override = Field(default_factory=Override)


@dataclass(frozen=True)
class Study:
    """A validated study: its name, where its files live and, per model, its specs."""

    name: str
    source: Path
    models: list[str]
    specs: dict[str, list[Spec]]  # model -> specs
    device_map: str | None

    def run_dir(self, study_dir: Path, model: str) -> Path:
        return study_dir / model_slug(model)


def model_slug(model: str) -> str:
    """A directory name for a model spec: readable, and distinct for distinct specs."""
    base = Path(model.rstrip("/")).name or model
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.")[:48] or "model"
    return f"{readable}-{hashlib.sha256(model.encode()).hexdigest()[:6]}"


def load_study(path: Path) -> Study:
    """Read and validate a study file: every spec of every model, before anything runs."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"Study file {str(path)!r} does not exist.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML ({exc}).") from None
    try:
        sf = StudyFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
        raise SpecError(f"{path}: {where}: {msg.removeprefix('Value error, ')}.") from None
    if not sf.battery and not sf.presets:
        raise SpecError(f"{path}: give battery = true or a list of presets (or both).")
    if sf.parts is not None and not sf.battery:
        raise SpecError(f"{path}: parts: battery parts need battery = true.")
    folder = path.parent
    models = [_resolve(folder, m) for m in sf.models]
    if len(set(models)) != len(models):
        raise SpecError(f"{path}: models: a model is listed twice.")
    base = _base_specs(sf, folder)
    specs = {
        m: [_for_model(s, m, sf, f"{path}: spec {s.name!r} on model {m!r}") for s in base]
        for m in models
    }
    return Study(sf.name or path.stem, path, models, specs, sf.device_map)


def _resolve(folder: Path, entry: str) -> str:
    """A relative path that exists next to the study file, as a path; else as given (a hub
    id, ``bundled``)."""
    local = folder / entry
    if not Path(entry).is_absolute() and (local.is_dir() or local.suffix == ".gguf"):
        return str(local.resolve())
    return entry


def _base_specs(sf: StudyFile, folder: Path) -> list[Spec]:
    specs: list[Spec] = []
    if sf.battery:
        specs += battery_specs(scale=sf.scale, only=sf.parts)
    for entry in sf.presets:
        local = folder / entry
        specs.append(load_spec(str(local) if local.suffix == ".toml" else entry))
    names = [s.name for s in specs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise SpecError(f"Two specs of the study are named {dup!r}; names must be distinct.")
    return specs


def _for_model(spec: Spec, model: str, sf: StudyFile, source: str) -> Spec:
    data = sf.override.apply(spec.model_dump(mode="json"))
    data.update(model=model, device=sf.device, dtype=sf.dtype)
    if sf.seed is not None:
        data["seed"] = sf.seed
    return validate_spec(data, source)


@dataclass(frozen=True)
class ModelRun:
    model: str
    run_dir: Path
    error: str | None  # the one sentence it failed with, None when it finished


RunFn = Callable[[list[Spec], Path, str | None], Any]


def run_study(study: Study, study_dir: Path, run: RunFn) -> list[ModelRun]:
    """Run every model of ``study`` with ``run(specs, run_dir, device_map)``, one run
    directory each, recording the study in ``study.json``; raise naming the models that
    failed once every model has had its turn."""
    study_dir = Path(study_dir)
    existing = _existing(study_dir)
    if existing is not None and existing.get("name") != study.name:
        raise SpecError(
            f"{study_dir} holds the study {existing.get('name')!r}, not {study.name!r}; "
            "choose another --out."
        )
    _record(study, study_dir, existing, [])
    done: list[ModelRun] = []
    for model in study.models:
        run_dir = study.run_dir(study_dir, model)
        try:
            run(study.specs[model], run_dir, study.device_map)
        except IntroscopeError as exc:
            done.append(ModelRun(model, run_dir, str(exc)))
        else:
            done.append(ModelRun(model, run_dir, None))
        _record(study, study_dir, existing, done)
    failed = [r for r in done if r.error is not None]
    if failed:
        raise IntroscopeError(
            f"The study ran {len(done) - len(failed)} of {len(done)} models; "
            + "; ".join(f"{r.model} failed: {str(r.error).rstrip('.')}" for r in failed)
            + "."
        )
    return done


def _existing(study_dir: Path) -> Mapping[str, Any] | None:
    if not (study_dir / STUDY_NAME).is_file():
        return None
    return read_study(study_dir)


def read_study(study_dir: Path) -> dict[str, Any]:
    """``study.json`` of a study directory (:class:`SpecError` if missing or malformed)."""
    path = Path(study_dir) / STUDY_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path} could not be read as a study record ({exc}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise SpecError(f"{path} is not a study record (no list of runs).")
    return data


def study_run_dirs(study_dir: Path) -> list[Path]:
    """The run directories a study directory lists, in study order."""
    return [Path(study_dir) / str(r["dir"]) for r in read_study(study_dir)["runs"]]


def _record(
    study: Study, study_dir: Path, existing: Mapping[str, Any] | None, done: Sequence[ModelRun]
) -> None:
    status = {r.model: ("failed: " + str(r.error)) if r.error else "complete" for r in done}
    atomic_write_text(
        study_dir / STUDY_NAME,
        json.dumps(
            {
                "name": study.name,
                "source": str(study.source),
                "created": (existing or {}).get("created") or datetime.now(UTC).isoformat(),
                "specs": sorted({s.name for ss in study.specs.values() for s in ss}),
                "runs": [
                    {
                        "model": m,
                        "dir": study.run_dir(study_dir, m).name,
                        "status": status.get(m, "pending"),
                    }
                    for m in study.models
                ],
            },
            indent=2,
            sort_keys=True,
        )
        + "\n",
    )


__all__ = [
    "STUDY_NAME",
    "ModelRun",
    "Study",
    "load_study",
    "model_slug",
    "read_study",
    "run_study",
    "study_run_dirs",
]
