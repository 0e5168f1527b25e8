"""Adapters saved beside a run: ``<run_dir>/adapters/<name>/``, resumable and verified.

An adapter directory holds peft's ``adapter_config.json`` and ``adapter_model.safetensors``
and :data:`METADATA` (written last): the identity it was trained under (data hash,
hyperparameters, seed, base-model fingerprint), what it is for (``about``: arm, seed ...),
the sha256 of every file peft wrote, the loss after every step and the seconds the training
loop took, measured by the trainer itself on the machine it ran on.

Training writes into a temporary directory beside the target and renames it, so an
interrupted run leaves either a complete adapter or a ``.tmp-*`` directory that is never
read. :func:`ensure_adapter` reuses an adapter whose identity matches and refuses (one
sentence) one whose identity differs or whose files no longer match their hashes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from introscope.core.layers import locate_layers
from introscope.core.models import LoadedModel
from introscope.errors import TrainingError
from introscope.store import stable_hash
from introscope.training.lora import StepFn, Trained, train_lora
from introscope.training.settings import Example, LoraSettings, data_hash

METADATA = "introscope-adapter.json"
ADAPTERS_DIR = "adapters"
#: Keys of the metadata that must match for an adapter to be reused.
IDENTITY = ("data_hash", "settings", "seed", "base_model")

Trainer = Callable[[LoadedModel, Sequence[Example], LoraSettings, int, StepFn | None], Trained]


@dataclass(frozen=True)
class AdapterPlan:
    """One adapter to have: its directory name, data, hyperparameters, seed and what it is
    for (recorded, not compared)."""

    name: str
    examples: Sequence[Example]
    settings: LoraSettings
    seed: int
    about: Mapping[str, Any] = field(default_factory=dict)


def adapter_dir(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / ADAPTERS_DIR / name


def base_fingerprint(lm: LoadedModel) -> dict[str, Any]:
    return {"name_or_path": lm.info.name_or_path, "weights_hash": lm.info.weights_hash}


def identity(lm: LoadedModel, plan: AdapterPlan) -> dict[str, Any]:
    return {
        "data_hash": data_hash(plan.examples),
        "settings": plan.settings.record(),
        "seed": plan.seed,
        "base_model": base_fingerprint(lm),
    }


def file_hashes(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != METADATA
    }


def read_metadata(directory: Path) -> dict[str, Any] | None:
    """The adapter's metadata, or None when the directory is not a complete adapter."""
    path = directory / METADATA
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def verify(directory: Path, expected: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The metadata of a complete adapter whose files match their recorded hashes and, when
    ``expected`` is given, whose identity matches; else :class:`TrainingError`."""
    meta = read_metadata(directory)
    if meta is None:
        raise TrainingError(
            f"{directory} is not a complete adapter (no readable {METADATA}); delete it to "
            "train it again."
        )
    recorded = meta.get("files") or {}
    actual = file_hashes(directory)
    if not recorded or recorded != actual:
        raise TrainingError(
            f"The adapter files in {directory} do not match the hashes its metadata records "
            "(changed or corrupted); delete the directory to train it again."
        )
    if expected is not None:
        differ = [k for k in IDENTITY if meta.get(k) != expected.get(k)]
        if differ:
            raise TrainingError(
                f"The adapter in {directory} differs from what this run asks for in its "
                f"{' and '.join(k.replace('_', ' ') for k in differ)}; delete it or choose "
                "another --out."
            )
    return meta


def ensure_adapter(
    lm: LoadedModel,
    run_dir: Path,
    plan: AdapterPlan,
    on_step: StepFn | None = None,
    trainer: Trainer | None = None,
) -> tuple[Path, bool]:
    """(the adapter's directory, whether it was trained now). A complete adapter with the
    same identity is reused without training; a different or corrupted one is refused."""
    target = adapter_dir(run_dir, plan.name)
    expected = identity(lm, plan)
    if target.exists():
        verify(target, expected)
        return target, False
    train = trainer or train_lora  # looked up at call time (tests replace it)
    trained = train(lm, plan.examples, plan.settings, plan.seed, on_step)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{plan.name}-", dir=target.parent))
    try:
        trained.model.save_pretrained(str(tmp))
        meta = {
            **expected,
            "name": plan.name,
            "about": dict(plan.about),
            "n_examples": len(plan.examples),
            "target_modules": trained.target_modules,
            "train_loss": trained.losses,
            "train_seconds": trained.seconds,
            "train_seconds_note": "wall clock of the training loop, measured by the trainer",
            "train_threads": trained.threads,
            "versions": versions(),
            "files": file_hashes(tmp),
        }
        (tmp / METADATA).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished the same adapter first: keep its copy if it is ours.
            verify(target, expected)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target, True


def versions() -> dict[str, str]:
    import peft
    import torch

    return {"peft": str(peft.__version__), "torch": str(torch.__version__)}


def load_adapted(
    lm: LoadedModel, directory: Path, expected: Mapping[str, Any] | None = None
) -> LoadedModel:
    """The base model with the adapter at ``directory`` merged into a fresh copy of its
    weights (``lm`` is unchanged), as a new :class:`LoadedModel` whose weights hash names
    base + adapter; give it its own engine (the engines' prefix caches then never mix base
    and adapted weights)."""
    from peft import PeftModel

    meta = verify(directory, expected)
    if meta.get("base_model") != base_fingerprint(lm):
        raise TrainingError(
            f"The adapter in {directory} was trained on other base weights than the loaded "
            "model's; load the model it was trained on."
        )
    wrapped = PeftModel.from_pretrained(copy.deepcopy(lm.model), str(directory))
    merged: Any = wrapped.merge_and_unload()
    merged.eval()
    merged.requires_grad_(False)
    layers, path = locate_layers(merged, lm.info.layers_path)
    adapter_hash = stable_hash(meta["files"])[:16]
    info = replace(
        lm.info,
        spec=f"{lm.info.spec}+adapter:{meta.get('name', directory.name)}",
        weights_hash=stable_hash([lm.info.weights_hash, adapter_hash])[:16],
        weights_hash_v1="",
        layers_path=path,
    )
    return LoadedModel(model=merged, tokenizer=lm.tokenizer, info=info, layers=layers)
