"""What an adapter is trained with: hyperparameters, examples and the data hash (torch-free).

An :class:`Example` is an already templated prompt (chat template applied, assistant turn
prefilled up to the answer) and the text of the answer; the loss is on the answer's first
token only, so a demonstration teaches a choice, not a way of writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from introscope.store import stable_hash

#: The linear layers LoRA adapts when they exist (attention and MLP projections of the
#: Llama / Mistral / Qwen / Gemma families); a model with none of them gets peft's
#: ``all-linear``.
PROJECTIONS: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)


class LoraSettings(BaseModel):
    """The hyperparameters an adapter's metadata records; two adapters are interchangeable
    only when these (and the data hash and base weights) are equal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(default=8, ge=1, le=256)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    learning_rate: float = Field(default=1e-3, gt=0, le=1)
    epochs: int = Field(default=1, ge=1, le=20)
    batch_size: int = Field(default=8, ge=1, le=256)
    # None: the projections above that the model has (else all linear layers).
    target_modules: tuple[str, ...] | None = None

    def record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class Example:
    """One demonstration: ``prompt`` (templated, ends where the answer starts) and the
    answer text whose first token is the training target."""

    prompt: str
    answer: str


def data_hash(examples: Sequence[Example]) -> str:
    """sha256 of the examples in order (the order is the data: it fixes the batches)."""
    return stable_hash([[e.prompt, e.answer] for e in examples])
