"""Two shortcuts in the shared-prefix path change work done, not results:

* rows injected inside the shared prefix skip the blocks below their lowest injected layer
  (the stored hook-free output of the block below stands in), and
* a batch of one repeated prompt takes every row's first logits from the prefix pass.

Each is compared with the path that does the full computation, on every supported
architecture and on the bundled model.
"""

from __future__ import annotations

import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, from_modules
from introscope.core.prefix import skipping_blocks
from introscope.core.steering import Injection, Window
from support import BUNDLED_VOCAB, TINY_ARCHS

PREAMBLE = (
    "I can inject patterns into your activations. In each trial I will ask whether you "
    "notice an injected thought and what it is about."
)
QUESTION = "Trial 1: Do you detect an injected thought? What is it about?"
N_NEW = 8


def _prompt(lm: LoadedModel) -> str:
    return lm.chat_prompt([("user", PREAMBLE), ("assistant", "Ready."), ("user", QUESTION)])


def _injections(lm: LoadedModel, seed: int, strength: float) -> list[Injection | None]:
    """Rows injected from the trial marker at every layer but the first, a row injected in
    generated tokens only, a row over the whole prompt, and uninjected rows."""
    gen = torch.Generator().manual_seed(seed)
    n = lm.n_layers

    def vec() -> torch.Tensor:
        return torch.randn(lm.hidden_size, generator=gen)

    rows: list[Injection | None] = [None]
    for layer in range(1, n):
        rows.append(Injection(vec(), layer, strength, Window.from_marker("Trial 1:")))
    rows.append(Injection(vec(), n - 1, strength, Window.generated()))
    rows.append(Injection(vec(), (1, n - 1), strength, Window.all()))
    rows.append(None)
    return rows


def _run(eng: Engine, prompts: list[str], injs, **kw):  # type: ignore[no-untyped-def]
    logp = eng.next_token_logprobs(prompts, injs, **kw)
    gens = eng.generate(prompts, injs, max_new_tokens=N_NEW, ignore_eos=True, **kw)
    return logp, [g.token_ids for g in gens]


@pytest.mark.parametrize("arch", list(TINY_ARCHS))
def test_skipping_blocks_matches_the_full_recompute(arch, make_tiny, lm) -> None:
    model = make_tiny(arch, n_layers=4, vocab_size=BUNDLED_VOCAB, seed=3)
    tiny = from_modules(model, lm.tokenizer, name=f"tiny-{arch}")
    injs = _injections(tiny, seed=1, strength=4.0)
    prompts = [_prompt(lm)] * len(injs)

    skipping = Engine(tiny)
    assert skipping._can_skip_blocks, arch
    full = Engine(tiny)
    full._can_skip_blocks = False
    logp_s, tok_s = _run(skipping, prompts, injs)
    logp_f, tok_f = _run(full, prompts, injs)
    _, tok_off = _run(full, prompts, injs, reuse_prefix=False)

    # The shortcut was taken (every block below each row's layer, for the marker rows) ...
    assert skipping.stats["block_tokens_skipped"] > 0, arch
    assert full.stats["block_tokens_skipped"] == 0
    # ... and changed nothing beyond float rounding: same tokens, same log-probs.
    assert tok_s == tok_f == tok_off, arch
    torch.testing.assert_close(logp_s, logp_f, rtol=0, atol=1e-5)
    # The injections mattered (the comparison is not between unhooked runs).
    plain = full.next_token_logprobs(prompts)
    changed = (logp_f - plain).abs().amax(-1) > 1e-3
    assert changed[1 : tiny.n_layers].all(), arch


def test_skipping_blocks_on_the_bundled_model(lm, concept_vs) -> None:
    """Concept injections at several depths from the trial marker: tokens equal the full
    recompute and the run without prefix reuse; log-probs agree to float rounding."""
    words = ["Dust", "Trees", "Lightning", "Cameras", "Sadness", "Trumpets"]
    layers = [3, 10, 15, 20, 25, 29]
    prompts = [_prompt(lm)] * (len(words) + 1)
    injs = [
        concept_vs.injection(w, layer, 6.0, Window.from_marker("Trial 1:"))
        for w, layer in zip(words, layers, strict=True)
    ] + [None]
    skipping = Engine(lm)
    full = Engine(lm)
    full._can_skip_blocks = False
    logp_s, tok_s = _run(skipping, prompts, injs)
    logp_f, tok_f = _run(full, prompts, injs)
    _, tok_off = _run(full, prompts, injs, reuse_prefix=False)
    assert skipping.stats["block_tokens_skipped"] > 0
    assert tok_s == tok_f == tok_off
    torch.testing.assert_close(logp_s, logp_f, rtol=0, atol=1e-4)


def test_repeated_prompt_takes_first_logits_from_the_prefix_pass(lm, engine, concept_vs) -> None:
    p = _prompt(lm)
    eng = Engine(lm)
    injs = [
        None,
        concept_vs.injection("Dust", 12, 6.0, Window.from_marker("Trial 1:")),
        concept_vs.injection("Trees", 15, 6.0, Window.generated()),
        concept_vs.injection("Lightning", 18, 6.0, Window.from_index(-1)),
        None,
    ]
    prompts = [p] * len(injs)
    logp, toks = _run(eng, prompts, injs)
    assert eng.stats["prompts_whole_in_prefix"] == 2  # next_token_logprobs and generate
    # An uninjected row is Hugging Face's own batch-1 forward, bit for bit.
    ids = torch.tensor([engine.encode(p).ids])
    with torch.inference_mode():
        out = lm.model(input_ids=ids, logits_to_keep=1)
        ref = torch.log_softmax(out.logits[:, -1].float(), dim=-1)[0]
    assert torch.equal(logp[0], ref) and torch.equal(logp[4], ref)
    assert torch.equal(logp[2], ref)  # injected in generated tokens only: same first logits
    # Injected rows match the path with a suffix pass (a longer batchmate keeps the last
    # prompt token out of the prefix), and the run without prefix reuse.
    longer = p + "Sure"
    assert engine.encode(longer).ids[:-1] == engine.encode(p).ids
    suffix_logp = torch.stack(
        [eng.next_token_logprobs([p, longer], [inj, None])[0] for inj in injs]
    )
    torch.testing.assert_close(logp, suffix_logp, rtol=0, atol=1e-4)
    off_logp, off_toks = _run(eng, prompts, injs, reuse_prefix=False)
    assert toks == off_toks
    torch.testing.assert_close(logp, off_logp, rtol=0, atol=1e-4)
    assert not torch.allclose(logp[1], logp[0], atol=1e-3)  # the injection mattered
    assert not torch.allclose(logp[3], logp[0], atol=1e-3)


def test_stand_in_blocks_are_restored_even_after_an_error(lm) -> None:
    layers = lm.layers
    marker = object()
    layers[1].forward = marker  # an instance-level forward, as accelerate installs
    try:
        hidden = torch.zeros(1, 2, lm.hidden_size)
        with pytest.raises(RuntimeError, match="boom"), skipping_blocks(layers, 3, hidden):
            assert layers[0](torch.ones(1)) is hidden and layers[2](None) is hidden
            raise RuntimeError("boom")
        assert layers[1].forward is marker
        assert all("forward" not in layers[j].__dict__ for j in (0, 2, 3))
    finally:
        del layers[1].forward


def test_unlisted_architectures_run_every_block(make_tiny, lm) -> None:
    """A family not checked for sequential blocks gets the full recomputation, same output."""
    model = make_tiny("llama", n_layers=4, vocab_size=BUNDLED_VOCAB, seed=4)
    tiny = from_modules(model, lm.tokenizer, name="tiny-llama")
    injs = _injections(tiny, seed=2, strength=4.0)
    prompts = [_prompt(lm)] * len(injs)
    listed = Engine(tiny)
    _, tok_listed = _run(listed, prompts, injs)
    model.config.model_type = "some_new_family"
    try:
        unlisted = Engine(tiny)
        assert not unlisted._can_skip_blocks
        _, tok_unlisted = _run(unlisted, prompts, injs)
    finally:
        model.config.model_type = "llama"
    assert unlisted.stats["block_tokens_skipped"] == 0 < listed.stats["block_tokens_skipped"]
    assert tok_unlisted == tok_listed
