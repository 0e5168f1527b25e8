"""The in-place growing KV cache (kv_cache.py) changes speed only: every decoding step's
logits are bit-identical to Hugging Face's concatenating cache, and the engine's greedy
generations equal plain ``generate`` on every supported architecture."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from introscope.core.engine import Engine
from introscope.core.kv_cache import GrowingLayer, expanded, reserve
from introscope.core.models import LoadedModel, from_modules
from support import BUNDLED_VOCAB, TINY_ARCHS

USER_TEXTS = [
    "Tell me about the sea.",
    "What is two plus two? Answer in one word.",
    "Write one sentence about a red kite flying over the hills.",
    "Hi",
]


def _decode_logits(model, cache, ids, mask, steps: int, grow: bool) -> list[torch.Tensor]:
    """Greedy-decode ``steps`` tokens from a prefilled padded batch; logits per step."""
    b, n = ids.shape
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        out = model(
            input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True
        )
        if grow:
            reserve(cache, steps)
        logits = [out.logits[:, -1].clone()]
        buffers = {id(layer.keys.untyped_storage()) for layer in cache.layers} if grow else set()
        nxt = out.logits[:, -1].argmax(-1)
        last = positions[:, -1:]
        for s in range(steps):
            mask = torch.cat([mask, torch.ones(b, 1, dtype=mask.dtype)], dim=1)
            out = model(
                input_ids=nxt[:, None],
                attention_mask=mask,
                position_ids=last + s + 1,
                cache=cache,
                use_cache=True,
            )
            logits.append(out.logits[:, -1].clone())
            nxt = out.logits[:, -1].argmax(-1)
        if grow:
            assert all(isinstance(layer, GrowingLayer) for layer in cache.layers)
            # no step reallocated: the views still point into the buffers made by reserve
            assert {id(layer.keys.untyped_storage()) for layer in cache.layers} == buffers
            assert all(layer.keys.shape[-2] == n + steps for layer in cache.layers)
    return logits


def test_growing_cache_logits_bit_identical_on_bundled_model(lm: LoadedModel) -> None:
    tok = lm.tokenizer
    texts = [lm.chat_prompt(u) for u in USER_TEXTS]
    enc = tok(texts, return_tensors="pt", padding=True, padding_side="left")
    assert (enc["attention_mask"] == 0).any(), "the batch must need padding"
    args = (lm.model, None, enc["input_ids"], enc["attention_mask"], 12)
    plain = _decode_logits(*args[:1], DynamicCache(config=lm.model.config), *args[2:], grow=False)
    grown = _decode_logits(*args[:1], DynamicCache(config=lm.model.config), *args[2:], grow=True)
    assert len(plain) == len(grown) == 13
    for step, (a, b) in enumerate(zip(plain, grown, strict=True)):
        assert torch.equal(a, b), f"step {step} differs"


def test_growing_layer_falls_back_to_copying_when_full() -> None:
    torch.manual_seed(0)
    k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    layer = GrowingLayer(k, v, extra=2)
    ref = DynamicLayer()
    ref.update(k, v)
    for width in (1, 3, 1):  # the second update overflows the 2 reserved columns
        nk, nv = torch.randn(2, 3, width, 4), torch.randn(2, 3, width, 4)
        got = layer.update(nk, nv)
        want = ref.update(nk, nv)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert layer.get_seq_length() == 10


def test_growing_layer_stays_correct_after_cache_surgery() -> None:
    """After reorder/select/crop/reset (beam search, assisted decoding), updates still give
    exactly what DynamicLayer gives."""
    torch.manual_seed(1)
    k, v = torch.randn(3, 2, 4, 5), torch.randn(3, 2, 4, 5)
    for surgery in ("select", "reorder", "crop", "reset"):
        layer, ref = GrowingLayer(k, v, extra=6), DynamicLayer()
        ref.update(k, v)
        for lay in (layer, ref):
            if surgery == "select":
                lay.batch_select_indices(torch.tensor([2, 0]))
            elif surgery == "reorder":
                lay.reorder_cache(torch.tensor([1, 1, 0]))
            elif surgery == "crop":
                lay.crop(-2)
            else:
                lay.reset()
        b = 2 if surgery == "select" else 3
        for _ in range(3):
            nk, nv = torch.randn(b, 2, 1, 5), torch.randn(b, 2, 1, 5)
            got, want = layer.update(nk, nv), ref.update(nk, nv)
            assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]), surgery


def test_reserve_leaves_other_layer_types_and_spare_room_alone() -> None:
    k = torch.randn(1, 2, 3, 4)
    cache = DynamicCache()
    cache.update(k, k, 0)
    cache.update(k, k, 1)
    cache.layers[1] = _Other()
    cache.layers[1].update(k, k)
    reserve(cache, 4)
    assert isinstance(cache.layers[0], GrowingLayer) and type(cache.layers[1]) is _Other
    first = cache.layers[0]
    reserve(cache, 4)  # already has the room: untouched
    assert cache.layers[0] is first
    reserve(cache, 9)  # needs more: regrown, contents kept
    assert cache.layers[0] is not first and torch.equal(cache.layers[0].keys, k)
    cache.layers[0].batch_select_indices(torch.tensor([0]))  # no longer a view: regrown
    reserve(cache, 1)
    assert cache.layers[0]._writes_in_place(1) and torch.equal(cache.layers[0].keys, k)
    cache.layers[0].reset()  # emptied: left for lazy initialisation
    reserve(cache, 1)
    assert cache.layers[0].keys is None


def test_expanded_copies_a_batch_one_cache_like_deepcopy_and_repeat() -> None:
    torch.manual_seed(2)
    k, v = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4)
    src = DynamicCache()
    src.update(k, v, 0)
    src.update(k + 1, v + 1, 1)
    src.layers[1] = _Other()
    src.layers[1].update(k + 1, v + 1)
    ref = copy.deepcopy(src)
    ref.batch_repeat_interleave(3)
    out = expanded(src, 3, extra=4)
    assert isinstance(out.layers[0], GrowingLayer) and out.layers[0]._writes_in_place(4)
    assert type(out.layers[1]) is _Other  # other types: deep-copied and repeated
    for mine, theirs in zip(out.layers, ref.layers, strict=True):
        assert torch.equal(mine.keys, theirs.keys) and torch.equal(mine.values, theirs.values)
    # The copy owns its tensors: writing into it (as splicing and decoding do) leaves the
    # cached batch-1 source untouched.
    out.layers[0].keys[1] = 0.0
    out.layers[1].keys[1] = 0.0
    out.layers[0].update(torch.ones(3, 2, 1, 4), torch.ones(3, 2, 1, 4))
    assert torch.equal(src.layers[0].keys, k) and torch.equal(src.layers[1].keys, k + 1)
    assert out.layers[0].keys.shape == (3, 2, 6, 4) and src.layers[0].keys.shape[-2] == 5
    assert out.layers is not src.layers


class _Other(DynamicLayer):
    """Stands in for a layer type reserve() must not touch (sliding-window, quantized...)."""


@pytest.mark.parametrize("arch", list(TINY_ARCHS))
def test_engine_greedy_equals_hf_generate_on_every_architecture(arch, make_tiny, lm) -> None:
    model = make_tiny(arch, n_layers=3, vocab_size=BUNDLED_VOCAB, seed=2)
    eng = Engine(from_modules(model, lm.tokenizer, name=f"tiny-{arch}"))
    texts = [lm.chat_prompt(u) for u in USER_TEXTS]
    seqs = [eng.encode(t).ids for t in texts]
    ids, mask, _ = eng._batch_inputs(seqs, 0)
    n_new = 10
    with torch.inference_mode():
        ref = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=n_new,
            min_new_tokens=n_new,
            do_sample=False,
            pad_token_id=eng.pad_id,
        )[:, ids.shape[1] :].tolist()
    for reuse in (False, True):
        gens = eng.generate(texts, max_new_tokens=n_new, ignore_eos=True, reuse_prefix=reuse)
        assert [list(g.token_ids) for g in gens] == ref, (arch, reuse)
