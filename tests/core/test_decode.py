"""The decoding loop (decode.py, compact.py): finished rows leave the batch without changing
any row's tokens, and the batched bookkeeping gives what plain ``generate`` gives."""

from __future__ import annotations

import pytest
import torch

from introscope.core.compact import kept_rows, row_floor
from introscope.core.engine import Engine
from introscope.core.models import from_modules
from introscope.core.steering import Injection, Window
from support import BUNDLED_VOCAB

USER_TEXTS = [
    "Tell me about the sea.",
    "What is two plus two? Answer in one word.",
    "Write one sentence about a red kite flying over the hills.",
    "Hi",
    "Name three fruits.",
    "Describe the weather today in one sentence, please.",
    "Repeat this: the old clock ticked loudly in the hall.",
    "Write a haiku about winter.",
]
N_NEW = 14


@pytest.fixture(scope="module")
def tiny(make_tiny, lm_tokenizer):
    model = make_tiny("llama", n_layers=3, vocab_size=BUNDLED_VOCAB, seed=5)
    eng = Engine(from_modules(model, lm_tokenizer, name="tiny-llama"))
    texts = [f"<|im_start|>user\n{u}<|im_end|>\n<|im_start|>assistant\n" for u in USER_TEXTS]
    return eng, texts


@pytest.fixture(scope="module")
def lm_tokenizer():
    """The bundled tokenizer alone, from the dequantized cache (no model load)."""
    from transformers import AutoTokenizer

    from introscope.core.models import bundled_gguf_path, gguf_cache_dir

    tok = AutoTokenizer.from_pretrained(str(gguf_cache_dir(bundled_gguf_path())))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def _stops_at_different_steps(eng, texts):
    """Stop ids that end most rows early, at different steps (the tiny model has no real
    end-of-sequence habit, so tokens it does produce are declared stops)."""
    free = eng.generate(texts, max_new_tokens=N_NEW, ignore_eos=True)
    stops: set[int] = set()
    for r, g in enumerate(free):
        if r % 4 != 3:  # every fourth row is left to run (unless a stop hits it anyway)
            stops.add(g.token_ids[2 + r % 5])
    return stops


def _run(eng, texts, stops, compact, **kw):
    eng.eos_ids, eng.compact_rows = stops, compact
    before = eng.decode_stats["row_compactions"]
    gens = eng.generate(texts, max_new_tokens=N_NEW, **kw)
    return gens, eng.decode_stats["row_compactions"] - before


def test_kept_rows_keeps_live_rows_and_fills_up_to_the_floor():
    live = torch.tensor([False, True, False, False, True, False])
    assert kept_rows(live, 1).tolist() == [1, 4]
    assert kept_rows(live, 4).tolist() == [0, 1, 2, 4]


def test_row_floor_is_a_batch_size_whose_linear_rows_are_exact(make_tiny):
    model = make_tiny("llama", n_layers=2)
    floor = row_floor(model, 16)
    assert 1 <= floor <= 16
    lin = model.lm_head
    x = torch.randn(16, 1, lin.in_features)
    with torch.inference_mode():
        assert torch.equal(lin(x[:floor]), lin(x)[:floor])


@pytest.mark.parametrize("reuse", [False, True])
def test_finished_rows_leave_the_batch_tokens_unchanged(tiny, reuse):
    eng, texts = tiny
    old = eng.eos_ids
    try:
        stops = _stops_at_different_steps(eng, texts)
        ref, n_ref = _run(eng, texts, stops, False, reuse_prefix=reuse)
        got, n_got = _run(eng, texts, stops, True, reuse_prefix=reuse)
    finally:
        eng.eos_ids, eng.compact_rows = old, True
    assert n_ref == 0 and n_got >= 1  # the batch did shrink
    assert [g.token_ids for g in got] == [g.token_ids for g in ref]
    assert [g.finished for g in got] == [g.finished for g in ref]
    assert sum(g.finished for g in got) >= 4
    assert len({len(g.token_ids) for g in got}) >= 3  # rows stopped at different steps


def test_finished_rows_leave_the_batch_with_injections_and_sampling(tiny):
    eng, texts = tiny
    d = eng.lm.hidden_size
    gen = torch.Generator().manual_seed(1)
    injs = [
        None
        if r % 3 == 2
        else Injection(torch.randn(d, generator=gen), r % 3, 4.0, Window.from_index(-3 - r))
        for r in range(len(texts))
    ]
    old = eng.eos_ids
    try:
        stops = _stops_at_different_steps(eng, texts)
        for kw in ({}, {"temperature": 1.0, "seeds": list(range(len(texts)))}):
            ref, _ = _run(eng, texts, stops, False, injections=injs, **kw)
            got, _ = _run(eng, texts, stops, True, injections=injs, **kw)
            assert [g.token_ids for g in got] == [g.token_ids for g in ref], kw
            assert [g.finished for g in got] == [g.finished for g in ref], kw
    finally:
        eng.eos_ids, eng.compact_rows = old, True


def test_greedy_with_stops_equals_hf_generate(tiny):
    """Rows stopping at different steps (and leaving the batch) match ``generate`` with the
    same end-of-sequence ids, token for token."""
    eng, texts = tiny
    old = eng.eos_ids
    try:
        stops = _stops_at_different_steps(eng, texts)
        gens, _ = _run(eng, texts, stops, True)
    finally:
        eng.eos_ids, eng.compact_rows = old, True
    seqs = [eng.encode(t).ids for t in texts]
    ids, mask, _ = eng._batch_inputs(seqs, 0)
    with torch.inference_mode():
        out = eng.model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=N_NEW,
            do_sample=False,
            eos_token_id=sorted(stops),
            pad_token_id=eng.pad_id,
        )[:, ids.shape[1] :].tolist()
    for r, g in enumerate(gens):
        ref = out[r]
        cut = next((i for i, t in enumerate(ref) if t in stops), len(ref))
        assert list(g.token_ids) == ref[:cut], r
        assert g.finished == (cut < len(ref)), r


@pytest.mark.slow
def test_finished_rows_leave_the_batch_on_the_bundled_model(lm):
    """Real end-of-sequence tokens at different steps: the same tokens with and without
    compaction, and control rows equal to plain ``generate``."""
    eng = Engine(lm)
    texts = [lm.chat_prompt(u) for u in USER_TEXTS] * 2
    ref_eng = Engine(lm)
    ref_eng.compact_rows = False
    ref = ref_eng.generate(texts, max_new_tokens=40)
    got = eng.generate(texts, max_new_tokens=40)
    assert [g.token_ids for g in got] == [g.token_ids for g in ref]
    assert [g.finished for g in got] == [g.finished for g in ref]
    if sum(g.finished for g in ref) >= len(texts) // 4:
        assert eng.decode_stats["row_compactions"] >= 1
