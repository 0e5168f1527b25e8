"""Dropout through hooks and the logit lens.

Dropout: the mask is a function of (row seed, layer, true position, dimension) only, so a
row's result does not depend on its batchmates; p = 0 is exactly no dropout; uninjected rows
stay bit-identical to the unhooked model. Lens: the last block's output read through the
final norm and unembedding is the model's own next-token distribution."""

from __future__ import annotations

import pytest
import torch

from introscope.core.dropout import dropped, uniform_noise
from introscope.core.engine import Engine
from introscope.core.lens import entropy, layer_entropies, lens_logprobs
from introscope.core.models import from_modules
from introscope.core.steering import Injection, Window, count_hooks
from introscope.errors import InjectionError
from support import BUNDLED_VOCAB

TEXTS = ["What is the capital of France?", "Name a color.", "Count to three, please."]


@pytest.fixture(scope="module")
def prompts(lm):  # type: ignore[no-untyped-def]
    return [lm.chat_prompt(t) for t in TEXTS]


def test_noise_is_a_function_of_seed_layer_position_and_dimension() -> None:
    pos = torch.arange(50)[None].expand(2, -1)
    a = uniform_noise(torch.tensor([7, 8]), 3, pos, 64)
    b = uniform_noise(torch.tensor([7, 9]), 3, pos, 64)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])
    assert not torch.equal(a[0], uniform_noise(torch.tensor([7]), 4, pos[:1], 64)[0])
    # A row's positions, not its column index, pick its noise (left padding shifts columns).
    shifted = uniform_noise(torch.tensor([7]), 3, torch.arange(10, 20)[None], 64)
    assert torch.equal(shifted[0], a[0, 10:20])
    big = uniform_noise(torch.tensor([1]), 0, torch.arange(400)[None], 576)
    assert float(big.min()) >= 0.0 and float(big.max()) < 1.0
    assert abs(float(big.mean()) - 0.5) < 0.005
    assert abs(float((big < 0.1).float().mean()) - 0.1) < 0.005


def test_dropped_zeroes_about_p_and_keeps_the_mean() -> None:
    h = torch.ones(2, 300, 576)
    out = dropped(h, torch.tensor([1, 2]), torch.tensor([0.1, 0.5]), 5, torch.arange(300)[None])
    zero = (out == 0).float().mean(dim=(1, 2))
    assert abs(float(zero[0]) - 0.1) < 0.01 and abs(float(zero[1]) - 0.5) < 0.01
    assert torch.allclose(out.mean(dim=(1, 2)), torch.ones(2), atol=0.02)
    kept = out[0][out[0] != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.9))


def test_dropout_injection_validates_and_describes() -> None:
    inj = Injection.dropout(0.1, (3, 5), seed=11)
    assert inj.describe() == {
        "label": "dropout:p0.1",
        "layers": [3, 5],
        "strength": 0.1,
        "window": "all",
        "mode": "dropout",
        "vector_norm": 0.0,
        "seed": 11,
    }
    for p in (1.0, -0.1, float("nan")):
        with pytest.raises(InjectionError):
            Injection.dropout(p, 3)
    assert "seed" not in Injection(torch.ones(4), 1).describe()


def test_dropout_p0_is_no_dropout_and_other_rows_are_untouched(lm, engine, prompts) -> None:  # type: ignore[no-untyped-def]
    ref = engine.next_token_logprobs(prompts)
    ref_gen = engine.generate(prompts, max_new_tokens=8)
    zero = [Injection.dropout(0.0, list(range(lm.n_layers)), seed=s) for s in (1, 2, 3)]
    assert torch.equal(engine.next_token_logprobs(prompts, zero), ref)
    assert [g.token_ids for g in engine.generate(prompts, zero, max_new_tokens=8)] == [
        g.token_ids for g in ref_gen
    ]
    mixed = [None, Injection.dropout(0.3, (2, 10, 20), seed=5), None]
    before = count_hooks(lm.model)
    out = engine.next_token_logprobs(prompts, mixed)
    assert count_hooks(lm.model) == before
    assert torch.equal(out[0], ref[0]) and torch.equal(out[2], ref[2])
    assert not torch.equal(out[1], ref[1])


def test_a_rows_dropout_draw_does_not_depend_on_its_batchmates(lm, engine, prompts) -> None:  # type: ignore[no-untyped-def]
    layers = (4, 12, 20)
    mine = Injection.dropout(0.2, layers, seed=42)
    same = [prompts[0]] * 3
    a = engine.next_token_logprobs(same, [mine, Injection.dropout(0.2, layers, seed=1), None])
    b = engine.next_token_logprobs(same, [mine, Injection.dropout(0.5, (3,), seed=9), mine])
    assert torch.equal(a[0], b[0]) and torch.equal(b[0], b[2])
    alone = engine.next_token_logprobs([prompts[0]], [mine], reuse_prefix=False)
    padded = engine.next_token_logprobs([prompts[2], prompts[0]], [None, mine])
    assert torch.allclose(alone[0], padded[1], atol=1e-4)
    other_seed = engine.next_token_logprobs([prompts[0]], [Injection.dropout(0.2, layers, seed=43)])
    assert not torch.allclose(alone[0], other_seed[0], atol=1e-3)
    # Generation: the mask follows true positions, so the KV cache changes nothing.
    gen = [Injection.dropout(0.1, layers, Window.all(), seed=3)]
    on = engine.generate(prompts[:1], gen, max_new_tokens=8, use_cache=True)
    off = engine.generate(prompts[:1], gen, max_new_tokens=8, use_cache=False)
    assert on[0].token_ids == off[0].token_ids


def test_lens_at_the_last_layer_is_the_models_distribution(lm, engine, prompts) -> None:  # type: ignore[no-untyped-def]
    acts = engine.capture_last(prompts, list(range(lm.n_layers)))
    lp = engine.next_token_logprobs(prompts, reuse_prefix=False)
    last = lens_logprobs(lm, acts[:, -1])
    assert torch.allclose(last, lp, atol=1e-4)
    ent = layer_entropies(lm, acts)
    assert ent.shape == (len(prompts), lm.n_layers)
    assert torch.allclose(ent[:, -1], entropy(lp), atol=1e-3)
    assert bool((ent >= 0).all()) and bool((ent <= torch.log(torch.tensor(lp.shape[-1]))).all())


@pytest.mark.parametrize("arch", ["llama", "gpt2", "gemma2", "gpt_neox"])
def test_lens_matches_the_logits_of_other_architectures(lm, make_tiny, arch: str) -> None:  # type: ignore[no-untyped-def]
    model = make_tiny(arch, n_layers=3, vocab_size=BUNDLED_VOCAB, seed=1)
    tiny = from_modules(model, lm.tokenizer, name=f"tiny-{arch}")
    eng = Engine(tiny)
    prompts = [tiny.chat_prompt(t) for t in TEXTS]
    acts = eng.capture_last(prompts, [tiny.n_layers - 1])
    lp = eng.next_token_logprobs(prompts, reuse_prefix=False)
    assert torch.allclose(lens_logprobs(tiny, acts[:, 0]), lp, atol=1e-4)
