"""Builders the tests share (imported as ``from support import ...``): tiny randomly
initialised models of every supported architecture, built from configs (nothing is
downloaded), and synthetic runs for analysis and report tests (no model)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from introscope.store import (
    RunStore,
    TrialRecord,
    decode_json_columns,
    stable_hash,
    write_manifest,
)
from introscope.tables import RunFrame

#: Architectures the layer locator must handle, with the attribute path of their decoder
#: blocks and the class name of one block.
TINY_ARCHS: dict[str, tuple[str, str]] = {
    "llama": ("model.layers", "LlamaDecoderLayer"),
    "qwen2": ("model.layers", "Qwen2DecoderLayer"),
    "qwen3": ("model.layers", "Qwen3DecoderLayer"),
    "mistral": ("model.layers", "MistralDecoderLayer"),
    "gemma2": ("model.layers", "Gemma2DecoderLayer"),
    "gemma3": ("model.layers", "Gemma3DecoderLayer"),
    "phi3": ("model.layers", "Phi3DecoderLayer"),
    "gpt2": ("transformer.h", "GPT2Block"),
    "gpt_neox": ("gpt_neox.layers", "GPTNeoXLayer"),
}


#: The bundled tokenizer's vocabulary: tiny models that share it can run real prompts.
BUNDLED_VOCAB = 49152


def tiny_config(arch: str, n_layers: int = 4, vocab_size: int = 128, hidden: int = 32) -> Any:
    """A tiny config for ``arch`` (no download: configs are built from keyword arguments)."""
    import transformers as tf

    common: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": n_layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 2,
    }
    head_dim = {"head_dim": hidden // 4}
    if arch == "llama":
        return tf.LlamaConfig(**common)
    if arch == "qwen2":
        return tf.Qwen2Config(**common)
    if arch == "qwen3":
        return tf.Qwen3Config(**common, **head_dim)
    if arch == "mistral":
        return tf.MistralConfig(**common)
    if arch == "gemma2":
        return tf.Gemma2Config(**common, **head_dim)
    if arch == "gemma3":
        return tf.Gemma3TextConfig(**common, **head_dim)
    if arch == "phi3":
        return tf.Phi3Config(**common)
    if arch == "gpt2":
        return tf.GPT2Config(
            vocab_size=vocab_size,
            n_embd=hidden,
            n_layer=n_layers,
            n_head=4,
            n_positions=512,
            bos_token_id=1,
            eos_token_id=2,
        )
    if arch == "gpt_neox":
        common.pop("num_key_value_heads")
        return tf.GPTNeoXConfig(**common)
    raise ValueError(f"no tiny config for {arch}")


def tiny_model(arch: str, n_layers: int = 4, vocab_size: int = 128, seed: int = 0) -> Any:
    """A tiny randomly initialised causal LM of ``arch`` (eval mode, float32, CPU)."""
    import transformers as tf

    classes = {
        "llama": tf.LlamaForCausalLM,
        "qwen2": tf.Qwen2ForCausalLM,
        "qwen3": tf.Qwen3ForCausalLM,
        "mistral": tf.MistralForCausalLM,
        "gemma2": tf.Gemma2ForCausalLM,
        "gemma3": tf.Gemma3ForCausalLM,
        "phi3": tf.Phi3ForCausalLM,
        "gpt2": tf.GPT2LMHeadModel,
        "gpt_neox": tf.GPTNeoXForCausalLM,
    }
    torch.manual_seed(seed)
    model = classes[arch](tiny_config(arch, n_layers, vocab_size))
    return model.eval()


class TrialRecords:
    """Synthetic trials for analysis and report tests (no model): ``add`` rows, then read
    them as a frame (``frame``), a :class:`~introscope.tables.RunFrame` (``run``) or write a
    run directory (``write``).

    Trial ids are unique per row; a row's ``rep`` is its index unless the condition gives
    one; cell ids hash the experiment and the condition without ``rep``.
    """

    def __init__(self, run_id: str = "synthetic-run") -> None:
        self.run_id = run_id
        self.records: list[TrialRecord] = []

    def add(
        self,
        experiment: str,
        condition: dict[str, Any],
        *,
        measure: str = "generation",
        response: str | None = None,
        grades: dict[str, Any] | None = None,
        logits: dict[str, Any] | None = None,
        prompt: str | None = None,
    ) -> TrialRecord:
        i = len(self.records)
        cell = {k: v for k, v in condition.items() if k != "rep"}
        rec = TrialRecord(
            trial_id=stable_hash({"i": i, "experiment": experiment}),
            run_id=self.run_id,
            experiment=experiment,
            cell_id=stable_hash({"experiment": experiment, **cell})[:12],
            condition={"rep": i, **condition},
            prompt=prompt if prompt is not None else f"prompt {i}",
            measure=measure,  # type: ignore[arg-type]
            seed=i,
            response=response,
            logits=logits,
            grades=grades or {},
        )
        self.records.append(rec)
        return rec

    def frame(self) -> pd.DataFrame:
        return decode_json_columns(pd.DataFrame([r.to_row() for r in self.records]))

    def run(self) -> RunFrame:
        return RunFrame(self.frame())

    def write(self, run_dir: Path, manifest: dict[str, Any] | None = None) -> Path:
        with RunStore(run_dir) as store:
            store.write_batch(self.records)
        write_manifest(run_dir, {"run_id": self.run_id, **(manifest or {})})
        return run_dir


@contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free 127.0.0.1 port in a daemon thread; yields the base URL
    (``http://127.0.0.1:PORT``) and shuts the server down afterwards."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
