"""The LoRA training loop (peft): cross-entropy on each example's answer token, seeded.

The base model is never modified: training runs on a deep copy wrapped by peft. Batches are
left-padded with explicit position ids (so the last position of every row is its last real
token and only that position's logits are computed: no ``[batch, length, vocab]`` tensor).
The seed fixes the LoRA initialisation and the order of the examples in every epoch.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from introscope.core.models import LoadedModel
from introscope.errors import TrainingError
from introscope.training.settings import PROJECTIONS, Example, LoraSettings

#: (steps done, steps in all, this step's loss) after every optimiser step.
StepFn = Callable[[int, int, float], None]


@dataclass
class Trained:
    """A trained peft model and what the trainer measured about itself."""

    model: Any  # a peft PeftModel around a copy of the base weights
    losses: list[float] = field(default_factory=list)  # one per optimiser step
    seconds: float = 0.0  # wall clock of the loop (time.perf_counter), on this machine
    threads: int = 0  # torch intra-op threads during training
    target_modules: list[str] = field(default_factory=list)


def target_modules(model: Any, settings: LoraSettings) -> list[str] | str:
    """The module names LoRA adapts: the settings' list, else the known projections the
    model has, else ``all-linear``."""
    if settings.target_modules is not None:
        return list(settings.target_modules)
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    found = [p for p in PROJECTIONS if p in names]
    return found or "all-linear"


def answer_token(lm: LoadedModel, answer: str) -> int:
    ids = lm.encode(answer)
    if not ids:
        raise TrainingError(f"The answer {answer!r} encodes to no token.")
    return ids[0]


def steps_per_epoch(n_examples: int, settings: LoraSettings) -> int:
    return -(-n_examples // settings.batch_size)


def batch_inputs(
    lm: LoadedModel, prompts: Sequence[str], device: torch.device
) -> dict[str, torch.Tensor]:
    """Left-padded input ids, attention mask and position ids (counted over real tokens)."""
    seqs = [lm.encode(p) for p in prompts]
    width = max(len(s) for s in seqs)
    pad = int(lm.tokenizer.pad_token_id)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        mask[r, width - len(s) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp_min(0)
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "position_ids": positions.to(device),
    }


def train_lora(
    lm: LoadedModel,
    examples: Sequence[Example],
    settings: LoraSettings,
    seed: int,
    on_step: StepFn | None = None,
) -> Trained:
    """Train one adapter on ``examples``; ``lm`` is left unchanged."""
    from peft import LoraConfig, get_peft_model

    if not examples:
        raise TrainingError("There are no training examples, so there is nothing to train.")
    targets = [answer_token(lm, e.answer) for e in examples]
    torch.manual_seed(seed)  # the LoRA A matrices are initialised from torch's generator
    base = copy.deepcopy(lm.model)
    modules = target_modules(base, settings)
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model: Any = get_peft_model(base, config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    order = list(range(len(examples)))
    rng = random.Random(f"lora:{seed}")
    total = settings.epochs * steps_per_epoch(len(examples), settings)
    out = Trained(model, threads=torch.get_num_threads())
    started = time.perf_counter()
    model.train()
    with torch.enable_grad():
        for _epoch in range(settings.epochs):
            rng.shuffle(order)
            for k in range(0, len(order), settings.batch_size):
                rows = order[k : k + settings.batch_size]
                inputs = batch_inputs(lm, [examples[i].prompt for i in rows], lm.device)
                logits = model(**inputs, logits_to_keep=1, use_cache=False).logits[:, -1, :]
                target = torch.tensor([targets[i] for i in rows], device=logits.device)
                loss = torch.nn.functional.cross_entropy(logits.float(), target)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                out.losses.append(float(loss.detach()))
                if on_step is not None:
                    on_step(len(out.losses), total, out.losses[-1])
    out.seconds = time.perf_counter() - started
    model.eval()
    out.target_modules = sorted(modules) if isinstance(modules, list) else [modules]
    return out
