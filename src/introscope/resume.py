"""What a resumed run must share with the run it continues, and the refusals when it does not.

A run directory resumes only the specs that made it (checked by the runner through the spec
digest). Beyond the specs, the numbers of a trial depend on the weights, the concept
vectors, the prompts and the libraries that compute them; a resume that changed any of them
would store trials of two different experiments under one run id. Each is recorded in the
manifest when the run starts and compared on every resume; a mismatch is one
:class:`~introscope.errors.StoreError` naming it, and ``--force`` (``force=True``) mixes
them anyway. Manifests written before a record existed are not checked for it.

Prompts: trial ids do not include the prompt text (old run directories must keep their ids),
so a changed prompt template or chat template would silently give new prompts to old ids.
The manifest records, per spec, a digest of the distinct prompts its trials use; and the
prompt hash every stored row carries is compared with the rebuilt trial's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from introscope.errors import StoreError
from introscope.spec import Spec, spec_params
from introscope.store import RunStore, prompt_hash, stable_hash

if TYPE_CHECKING:
    from introscope.core.models import ModelInfo
    from introscope.experiments.base import Trial

#: Libraries whose version changes the numbers (python's does not, in practice).
COMPARED_VERSIONS = ("introscope", "torch", "transformers")

FORCE_HINT = "pass --force to resume anyway and mix them"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def prompt_digests(trials: Mapping[str, Sequence[Trial]]) -> dict[str, str]:
    """Spec name -> digest of the distinct prompts of its trials (sorted)."""
    return {
        name: stable_hash(sorted({prompt_hash(t.prompt) for t in ts}))[:16]
        for name, ts in trials.items()
    }


def check_vectors_file(run_dir: Path, manifest: Mapping[str, Any] | None, path: Path) -> None:
    """The run's vector file is the one it started with (byte for byte)."""
    recorded = (manifest or {}).get("vectors_sha256")
    if not recorded:
        return
    if not path.is_file():
        raise StoreError(
            f"{run_dir} was started with concept vectors that are gone ({path.name} is "
            f"missing); new ones would differ from those of the stored trials; {FORCE_HINT}."
        )
    if file_sha256(path) != recorded:
        raise StoreError(
            f"{path} changed since {run_dir} started (sha256 {file_sha256(path)[:12]}, the "
            f"manifest records {str(recorded)[:12]}); {FORCE_HINT}."
        )


def check_model_and_versions(
    run_dir: Path, manifest: Mapping[str, Any], info: ModelInfo, versions: Mapping[str, str]
) -> None:
    """Same weights (fingerprint) and same library versions as the run recorded."""
    model = manifest.get("model")
    recorded = str(model.get("weights_hash") or "") if isinstance(model, Mapping) else ""
    if not info.same_weights(recorded):
        raise StoreError(
            f"{run_dir} was started on weights {recorded} and the model loaded now has weights "
            f"{info.weights_hash}; {FORCE_HINT}."
        )
    old = manifest.get("versions")
    if not isinstance(old, Mapping):
        return
    for lib in COMPARED_VERSIONS:
        if lib in old and lib in versions and str(old[lib]) != str(versions[lib]):
            raise StoreError(
                f"{run_dir} was started with {lib} {old[lib]} and this run has {lib} "
                f"{versions[lib]}, which may compute different numbers; {FORCE_HINT}."
            )


def check_prompts(
    run_dir: Path,
    manifest: Mapping[str, Any] | None,
    trials: Mapping[str, Sequence[Trial]],
    store: RunStore,
) -> None:
    """The prompts are those the run started with: per spec (manifest digest) and per
    stored trial (its stored prompt hash)."""
    recorded = (manifest or {}).get("prompt_templates")
    if isinstance(recorded, Mapping):
        for name, digest in prompt_digests(trials).items():
            if name in recorded and recorded[name] != digest:
                raise StoreError(
                    f"The prompts of spec {name!r} differ from those {run_dir} was started "
                    f"with (a prompt template or the model's chat template changed); "
                    f"{FORCE_HINT}."
                )
    stored = dict(store.sql("SELECT trial_id, prompt_hash FROM trials").itertuples(index=False))
    if not stored:
        return
    for name, ts in trials.items():
        for t in ts:
            old = stored.get(t.trial_id)
            if old is not None and old != prompt_hash(t.prompt):
                raise StoreError(
                    f"Trial {t.trial_id} of spec {name!r} was stored with another prompt than "
                    f"it has now (a prompt template or the model's chat template changed); "
                    f"{FORCE_HINT}."
                )


def run_protocols(manifest: Mapping[str, Any] | None, specs: Sequence[Spec]) -> dict[str, int]:
    """Spec name -> the protocol version its stored trials were made under: the manifest's
    record (a manifest written before versions were recorded made version 1 of everything),
    or this code's versions for a new run."""
    if manifest is None:
        return {s.name: type(spec_params(s)).protocol for s in specs}
    stored = manifest.get("protocols") or {}
    return {s.name: int(stored.get(s.name, 1)) for s in specs}


def check_protocols(
    run_dir: Path, specs_with_work: Sequence[Spec], protocols: Mapping[str, int]
) -> None:
    """Refuse to add trials to a spec whose stored trials were built under another protocol
    version of its experiment (same ids, different trials). A spec with nothing left to run
    keeps its old trials, which its analysis reads as they are."""
    for spec in specs_with_work:
        now = type(spec_params(spec)).protocol
        if protocols[spec.name] != now:
            raise StoreError(
                f"{run_dir} holds trials of {spec.name!r} built under version "
                f"{protocols[spec.name]} of the {spec.experiment} experiment's protocol, and "
                f"this introscope builds version {now}, whose trials differ under the same "
                "ids; run it into another --out."
            )
