"""Weight noise (core/weight_noise.py) on a tiny llama with the bundled tokenizer: the model
comes back bit-identical (after an exception too), sigma 0 changes nothing, sigma > 0 changes
the outputs reproducibly per seed, and a shared prefix kept from one noise state is never
reused under another."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, from_modules
from introscope.core.weight_noise import noised_weights, weight_noise


@pytest.fixture(scope="module")
def tiny(make_tiny: Any, lm: LoadedModel) -> LoadedModel:
    model = make_tiny("llama", n_layers=3, vocab_size=len(lm.tokenizer), seed=5)
    return from_modules(model, lm.tokenizer, name="tiny-noise")


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_bit_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


#: Two prompts with a long common prefix, so the engine runs and keeps a shared prefix.
PREFIX = "The quick brown fox jumps over the lazy dog near the river bank, and then "
PROMPTS = [PREFIX + "it sleeps.", PREFIX + "it runs away."]


def test_restores_bit_identically_and_sigma_zero_is_identity(tiny: LoadedModel) -> None:
    eng = Engine(tiny)
    before = state(tiny.model)
    clean = eng.next_token_logprobs(PROMPTS)
    with weight_noise(eng, 0.0, seed=1) as n:
        assert n == 0
        assert_bit_identical(state(tiny.model), before)
        assert torch.equal(eng.next_token_logprobs(PROMPTS), clean)
    with weight_noise(eng, 0.3, seed=1) as n:
        assert n == len(noised_weights(tiny.layers)) > 0
        noisy = eng.next_token_logprobs(PROMPTS)
        # only block linear weights move: embeddings and norms are untouched
        now = state(tiny.model)
        moved = {k for k in before if not torch.equal(before[k], now[k])}
        assert moved and all(k.endswith("proj.weight") for k in moved)
    assert_bit_identical(state(tiny.model), before)
    assert (noisy - clean).abs().max() > 1e-3
    with weight_noise(eng, 0.3, seed=1):
        assert torch.equal(eng.next_token_logprobs(PROMPTS), noisy)  # same seed, same draw
    with weight_noise(eng, 0.3, seed=2):
        assert not torch.equal(eng.next_token_logprobs(PROMPTS), noisy)
    assert torch.equal(eng.next_token_logprobs(PROMPTS), clean)


def test_restores_after_an_exception(tiny: LoadedModel) -> None:
    eng = Engine(tiny)
    before = state(tiny.model)
    with pytest.raises(RuntimeError, match="boom"), weight_noise(eng, 1.0, seed=3):
        assert not torch.equal(
            state(tiny.model)["model.layers.0.mlp.up_proj.weight"],
            before["model.layers.0.mlp.up_proj.weight"],
        )
        raise RuntimeError("boom")
    assert_bit_identical(state(tiny.model), before)
    with pytest.raises(ValueError, match="sigma"), weight_noise(eng, -0.1, seed=0):
        pass


def test_a_kept_prefix_is_never_reused_across_noise_states(tiny: LoadedModel) -> None:
    warm = Engine(tiny)
    clean = warm.next_token_logprobs(PROMPTS)  # keeps the clean shared prefix
    assert warm.stats["prefix_misses"] == 1 and len(warm._prompts.entries) == 1
    with weight_noise(warm, 0.5, seed=7):
        got = warm.next_token_logprobs(PROMPTS)
    fresh = Engine(tiny)
    with weight_noise(fresh, 0.5, seed=7):
        want = fresh.next_token_logprobs(PROMPTS)
    # A reused clean prefix would give the noisy suffix stale keys/values: not equal.
    assert torch.equal(got, want)
    assert warm.stats["prefix_misses"] == 2  # recomputed under noise, not hit
    # and the noisy prefix is not reused after the weights are restored
    assert torch.equal(warm.next_token_logprobs(PROMPTS), clean)
    assert warm.stats["prefix_misses"] == 3
