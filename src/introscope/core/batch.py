"""A batch of prompts made ready to run: tokens, resolved injections, padded inputs.

Each prompt is tokenized on its own (no padding) with character offsets, and each row's
injection windows are resolved against that row's own tokens (docs/engine.md §1). When the
batch runs, rows that share a prefix differ only in their suffixes, which are left-padded
*between* the prefix and the suffix; explicit positions keep every real token at its true
position, so a row computes what it would unpadded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from introscope.core.models import LoadedModel
from introscope.core.steering import Injection, Positions, ResolvedInjection, resolve_injection

#: One row's injections: none, one, or several.
RowInjections = Injection | Sequence[Injection] | None


@dataclass
class EncodedPrompt:
    """One prompt's tokens and the character range of each token in ``text``."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    text: str


@dataclass
class PreparedBatch:
    """A batch after tokenization and window resolution."""

    rows: list[EncodedPrompt]
    resolved: list[list[ResolvedInjection]]
    prompt_lens: list[int]  # before any appended continuation tokens


def encode_prompt(tokenizer: Any, text: str) -> EncodedPrompt:
    """Tokens of ``text`` as it stands (it is already chat-templated: no special tokens)."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [(int(a), int(b)) for a, b in enc["offset_mapping"]]
    return EncodedPrompt(list(enc["input_ids"]), offsets, text)


def _as_list(inj: RowInjections) -> list[Injection]:
    if inj is None:
        return []
    if isinstance(inj, Injection):
        return [inj]
    return list(inj)


def prepare_batch(
    lm: LoadedModel,
    prompts: Sequence[str],
    injections: Sequence[RowInjections] | None,
    suffixes: Sequence[Sequence[int]] | None = None,
) -> PreparedBatch:
    """Tokenize every prompt, resolve (and validate) each row's injections against its own
    tokens, and append ``suffixes[i]`` (continuation tokens to score) to row ``i``."""
    if injections is None:
        injections = [None] * len(prompts)
    if len(injections) != len(prompts):
        raise ValueError("Give one injection entry (or None) per prompt.")
    rows = [encode_prompt(lm.tokenizer, p) for p in prompts]
    plens = [len(r.ids) for r in rows]
    resolved = []
    for i, (row, inj) in enumerate(zip(rows, injections, strict=True)):
        # Windows are resolved against the prompt; appended continuation tokens (for
        # scoring) count as "generated" positions.
        plen = len(row.ids)
        checked = [
            (x, resolve_injection(x, lm.n_layers, lm.hidden_size, plen, row.offsets, row.text))
            for x in _as_list(inj)
        ]
        # A zero-strength injection is exactly no injection: drop it (after validating
        # it), so the row runs the unhooked computation bit for bit.
        resolved.append([r for x, r in checked if x.strength != 0])
        if suffixes is not None:
            row.ids = row.ids + list(suffixes[i])
    return PreparedBatch(rows, resolved, plens)


def padded_inputs(
    seqs: Sequence[Sequence[int]], prefix: int, pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, Positions]:
    """Left-pad the suffixes after a shared prefix of length ``prefix``.

    Returns input ids ``[B, S]``, the 2-D attention mask over ``prefix + S`` columns,
    and the true positions / validity of the ``S`` suffix columns.
    """
    suffixes = [list(s[prefix:]) for s in seqs]
    width = max(len(s) for s in suffixes)
    b = len(seqs)
    ids = torch.full((b, width), pad_id, dtype=torch.long)
    valid = torch.zeros(b, width, dtype=torch.bool)
    position = torch.zeros(b, width, dtype=torch.long)
    for r, s in enumerate(suffixes):
        n = len(s)
        if n:
            ids[r, width - n :] = torch.tensor(s)
            valid[r, width - n :] = True
            position[r, width - n :] = torch.arange(prefix, prefix + n)
    mask = torch.cat([torch.ones(b, prefix, dtype=torch.long), valid.long()], dim=1)
    return ids.to(device), mask.to(device), Positions(position.to(device), valid.to(device))
