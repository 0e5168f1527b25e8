"""Concept vectors, contrastive vectors and their controls; safetensors I/O.

The paper's method (docs/protocols.md §1): for each word, the residual activation at the last prompt
token (after the assistant header) of a user turn asking about the word (lowercased), minus
the mean of the same activation over the baseline words. All layers come from one batched
pass, so a :class:`VectorSet` holds ``[n_layers, hidden]`` per word. A concept set also keeps
the baseline words' own activations minus that mean (``baseline``, ``[n_words, n_layers,
hidden]``): the covariance-matched random control is drawn from them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from introscope import __version__
from introscope.core.engine import Engine
from introscope.core.layers import LayerSpec, resolve_layer
from introscope.core.models import LoadedModel, ModelInfo
from introscope.core.steering import Injection, Mode, Window
from introscope.errors import VectorError
from introscope.words import word_list

PAPER_TEMPLATE = "Tell me about {word}."
#: ``VectorSet.extra`` key of the per-layer mean residual norm (a JSON list).
RESIDUAL_NORM_KEY = "residual_norm"
#: The tensor holding :attr:`VectorSet.baseline` in a vector file (files without it load
#: with ``baseline=None``; readers that only know ``vec.*`` ignore it).
BASELINE_TENSOR = "baseline"


def concept_prompt(lm: LoadedModel, word: str, template: str = PAPER_TEMPLATE) -> str:
    return lm.chat_prompt(template.format(word=word.lower()))


@dataclass
class VectorSet:
    """Named vectors for every layer of one model: ``vectors[name]`` is ``[n_layers, d]``."""

    vectors: dict[str, torch.Tensor]
    model_id: str
    weights_hash: str
    hidden_size: int
    n_layers: int
    method: str
    prompt_template: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # The baseline words' activations minus their mean, ``[n_words, n_layers, d]`` (concept
    # sets made with ``concept_vectors(..., keep_baseline=True)``, as every run directory's
    # are; None for other sets and for files written before the matched-random control).
    baseline: torch.Tensor | None = None

    @property
    def names(self) -> list[str]:
        return list(self.vectors)

    def get(self, name: str, layer: int | None = None) -> torch.Tensor:
        if name not in self.vectors:
            close = [n for n in self.vectors if n.lower() == name.lower()]
            if close:
                name = close[0]
            else:
                raise VectorError(f"No vector named {name!r} in this set ({len(self)} vectors).")
        v = self.vectors[name]
        return v if layer is None else v[layer]

    def residual_norm(self, layer: int) -> float:
        """The mean norm of the residual stream at ``layer`` over the baseline prompts the
        vectors were made with (relative strengths are fractions of it)."""
        if RESIDUAL_NORM_KEY not in self.extra:
            raise VectorError(
                "These vectors record no residual-stream norms (they were made by an older "
                "introscope); rebuild them to use relative strengths."
            )
        norms = json.loads(self.extra[RESIDUAL_NORM_KEY])
        return float(norms[layer])

    def norms(self, layer: int) -> torch.Tensor:
        return torch.stack([v[layer].norm() for v in self.vectors.values()])

    def injection(
        self,
        name: str,
        layer: LayerSpec,
        strength: float,
        window: Window | None = None,
        *,
        mode: Mode = "add",
    ) -> Injection:
        idx = resolve_layer(layer, self.n_layers)
        return Injection(
            self.get(name, idx),
            (idx,),
            strength,
            window or Window.all(),
            mode,
            label=f"{self.method}:{name}@L{idx}",
        )

    def __len__(self) -> int:
        return len(self.vectors)

    def check_model(self, lm: LoadedModel) -> None:
        """Refuse vectors made for another model."""
        self.check_info(lm.info)

    def check_info(self, info: ModelInfo) -> None:
        """Refuse vectors made for another model than the one ``info`` describes."""
        if self.hidden_size != info.hidden_size or self.n_layers != info.n_layers:
            raise VectorError(
                f"These vectors were made for a model with hidden size {self.hidden_size} and "
                f"{self.n_layers} layers ({self.model_id}), not for {info.spec} "
                f"({info.hidden_size}, {info.n_layers} layers)."
            )
        if not info.same_weights(self.weights_hash):
            raise VectorError(
                f"These vectors were made for weights {self.weights_hash} ({self.model_id}); the "
                f"loaded model has weights {info.weights_hash}: rebuild them for this model."
            )


def _batched(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def last_token_activations(
    engine: Engine,
    prompts: Sequence[str],
    *,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """``[N, n_layers, d]`` activations at the last token of each prompt, all layers."""
    lm = engine.lm
    out = []
    for chunk in _batched(prompts, batch_size):
        acts = engine.capture_last(chunk, list(range(lm.n_layers)), reuse_prefix=True)
        out.append(acts)
        if progress is not None:
            progress(len(chunk))
    return torch.cat(out)


def concept_vectors(
    engine: Engine,
    words: Sequence[str],
    *,
    baseline: Sequence[str] | None = None,
    template: str = PAPER_TEMPLATE,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    keep_baseline: bool = False,
) -> VectorSet:
    """Mean-difference concept vectors (word minus baseline mean) at every layer.

    ``keep_baseline`` keeps the baseline words' activations minus their mean in the set
    (``[n_words, n_layers, d]``, about as large as 100 concept vectors), which the
    matched-random control draws from; a run directory's vectors keep them, single vectors
    built for generation or serving do not."""
    if not words and not keep_baseline:
        # A run directory's set (keep_baseline) may hold no words: a run whose slices read no
        # concept vectors but take relative strengths needs the residual norms alone.
        raise VectorError("No words were given to build concept vectors from.")
    lm = engine.lm
    base = list(baseline) if baseline is not None else word_list("baseline")
    prompts = [concept_prompt(lm, w, template) for w in [*words, *base]]
    acts = last_token_activations(engine, prompts, batch_size=batch_size, progress=progress)
    mean_base = acts[len(words) :].mean(dim=0)
    vecs = {w: (acts[i] - mean_base).contiguous() for i, w in enumerate(words)}
    # The residual stream's size at each layer (mean norm over the baseline prompts, the same
    # for every run of a model): what relative injection strengths are fractions of.
    residual = acts[len(words) :].float().norm(dim=-1).mean(dim=0)
    return VectorSet(
        vecs,
        lm.info.name_or_path,
        lm.info.weights_hash,
        lm.hidden_size,
        lm.n_layers,
        "concept",
        template,
        {
            "baseline_n": str(len(base)),
            "position": "last",
            RESIDUAL_NORM_KEY: json.dumps([float(x) for x in residual]),
        },
        baseline=(acts[len(words) :] - mean_base).contiguous() if keep_baseline else None,
    )


def contrastive_vectors(
    engine: Engine,
    name: str,
    positive: Sequence[str],
    negative: Sequence[str],
    *,
    batch_size: int = 32,
) -> VectorSet:
    """Mean(positive) - mean(negative) at the last token of each chat-templated prompt."""
    if not positive or not negative:
        raise VectorError("Contrastive vectors need at least one positive and one negative prompt.")
    lm = engine.lm
    pos = last_token_activations(
        engine, [lm.chat_prompt(p) for p in positive], batch_size=batch_size
    )
    neg = last_token_activations(
        engine, [lm.chat_prompt(p) for p in negative], batch_size=batch_size
    )
    vec = (pos.mean(0) - neg.mean(0)).contiguous()
    return VectorSet(
        {name: vec},
        lm.info.name_or_path,
        lm.info.weights_hash,
        lm.hidden_size,
        lm.n_layers,
        "contrastive",
        "",
        {"n_positive": str(len(positive)), "n_negative": str(len(negative))},
    )


# ----------------------------------------------------------------------------- controls
def random_like(vector: torch.Tensor, seed: int) -> torch.Tensor:
    """Gaussian direction with the same norm as ``vector`` (per layer for ``[L, d]``)."""
    g = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(vector.shape, generator=g, dtype=torch.float32)
    norm = vector.float().norm(dim=-1, keepdim=True)
    return noise / noise.norm(dim=-1, keepdim=True) * norm


def negated(vector: torch.Tensor) -> torch.Tensor:
    return -vector


def rescaled(direction: torch.Tensor, like: torch.Tensor, what: str) -> torch.Tensor:
    """``direction`` with the norm of ``like`` at every layer (last dimension)."""
    norm = direction.float().norm(dim=-1, keepdim=True)
    if bool((norm == 0).any()):
        raise VectorError(f"The {what} direction is zero at some layer; it cannot be rescaled.")
    return direction.float() / norm * like.float().norm(dim=-1, keepdim=True)


def baseline_pair(n_words: int, seed: int) -> tuple[int, int]:
    """Two distinct baseline-word indices drawn from ``seed`` (the matched-random control)."""
    if n_words < 2:
        raise VectorError("The matched-random control needs at least two baseline words.")
    g = torch.Generator().manual_seed(int(seed))
    i, j = torch.randperm(n_words, generator=g)[:2].tolist()
    return int(i), int(j)


def matched_random_like(vector: torch.Tensor, baseline: torch.Tensor, seed: int) -> torch.Tensor:
    """A covariance-matched random direction with the norm of ``vector`` at every layer.

    The difference of two baseline words' activations (a seeded pair): a direction along which
    the model's own activations actually vary, with their covariance (twice the baseline
    covariance over pairs), unlike an isotropic Gaussian, which mostly points where the
    residual stream never goes. ``baseline`` is ``[n_words, n_layers, d]`` (or ``[n_words,
    d]`` for a single layer), ``vector`` ``[n_layers, d]`` (or ``[d]``).
    """
    i, j = baseline_pair(baseline.shape[0], seed)
    return rescaled(baseline[i] - baseline[j], vector, "matched-random")


def control_vector(
    vs: VectorSet,
    word: str,
    control: str,
    *,
    seed: int = 0,
    other: str | None = None,
    pool: Sequence[str] | None = None,
) -> torch.Tensor:
    """The ``[n_layers, d]`` vector for a control condition.

    ``none``/``concept``: the word's own vector; ``random``: norm-matched isotropic Gaussian;
    ``negated``: minus the vector; ``other``: another concept's vector (``other``, or a
    seeded pick from ``pool`` -- every vector of the set by default -- rescaled to this
    word's norm per layer); ``matched_random``: the difference of two seeded baseline words'
    activations, rescaled to this word's norm per layer (:func:`matched_random_like`).
    """
    v = vs.get(word)
    if control in ("none", "concept"):
        return v
    if control == "random":
        return random_like(v, seed)
    if control == "negated":
        return negated(v)
    if control == "other":
        names = list(pool) if pool is not None else vs.names
        choices = [n for n in names if n.lower() != word.lower()]
        if not choices:
            raise VectorError("The 'other concept' control needs at least two concepts.")
        pick = other if other is not None else choices[int(seed) % len(choices)]
        return rescaled(vs.get(pick), v, f"{pick!r} concept")
    if control == "matched_random":
        if vs.baseline is None:
            raise VectorError(
                "This vector set has no baseline-word activations (it was written before the "
                "matched_random control existed, or built without keep_baseline); the "
                "matched_random control needs them: rebuild the vectors (a new run directory "
                "does)."
            )
        return matched_random_like(v, vs.baseline, seed)
    raise VectorError(
        f"Unknown control {control!r}; use none, random, negated, other or matched_random."
    )


# ----------------------------------------------------------------------------- file I/O
def save_vectors(vs: VectorSet, path: str | Path) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"vec.{i}": v.float().contiguous() for i, v in enumerate(vs.vectors.values())}
    if vs.baseline is not None:
        tensors[BASELINE_TENSOR] = vs.baseline.float().contiguous()
    meta = {
        "format": "introscope-vectors/1",
        "names": json.dumps(vs.names),
        "model_id": vs.model_id,
        "weights_hash": vs.weights_hash,
        "hidden_size": str(vs.hidden_size),
        "n_layers": str(vs.n_layers),
        "layers": "all",
        "method": vs.method,
        "prompt_template": vs.prompt_template,
        "introscope_version": __version__,
        "extra": json.dumps(vs.extra),
    }
    # A temp name of its own (two processes saving side by side never share one), then an
    # atomic rename: a reader sees the old file or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_vectors(path: str | Path, lm: LoadedModel | None = None) -> VectorSet:
    """Load a vector file; with ``lm``, refuse vectors made for another model."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise VectorError(f"Vector file {str(path)!r} does not exist.")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta: Mapping[str, str] = f.metadata() or {}
            if meta.get("format") != "introscope-vectors/1":
                raise VectorError(f"{p} is not an introscope vector file (no format metadata).")
            names = json.loads(meta["names"])
            vectors = {n: f.get_tensor(f"vec.{i}") for i, n in enumerate(names)}
            stored = set(f.keys())  # safe_open has no ``in``
            baseline = f.get_tensor(BASELINE_TENSOR) if BASELINE_TENSOR in stored else None
    except VectorError:
        raise
    except Exception as exc:
        raise VectorError(f"Could not read vector file {p}: {exc}") from None
    for n, v in {**vectors, "(baseline words)": baseline}.items():
        if v is not None and not torch.isfinite(v).all():
            raise VectorError(f"Vector {n!r} in {p} contains NaN or infinite values.")
    vs = VectorSet(
        vectors,
        meta.get("model_id", ""),
        meta.get("weights_hash", ""),
        int(meta["hidden_size"]),
        int(meta["n_layers"]),
        meta.get("method", ""),
        meta.get("prompt_template", ""),
        json.loads(meta.get("extra", "{}")),
        baseline=baseline,
    )
    if lm is not None:
        vs.check_model(lm)
    return vs
