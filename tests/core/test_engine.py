"""The core engine on the bundled model: exact activations, identity of unhooked rows, mixed
batches, KV cache and prefix reuse, seeded sampling, hook hygiene, and a statistical positive
control for concept injection."""

from __future__ import annotations

import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.steering import Injection, Window, count_hooks
from introscope.core.vectors import random_like

MAX_NEW = 24

# Chat prompts of different lengths (so every batch is left-padded inside the engine).
USER_TEXTS = [
    "Tell me a short story about a cat.",
    "What is 2+2?",
    "Describe the weather today in one sentence, please.",
    "Repeat this sentence: the old clock ticked loudly in the hall.",
    "Write a haiku about winter.",
    "Name three fruits.",
    "Hi",
]


@pytest.fixture(scope="module")
def prompts(lm):
    return [lm.chat_prompt(u) for u in USER_TEXTS]


@pytest.fixture(scope="module")
def unhooked(engine, prompts):
    """Greedy generations and next-token log-probs of the prompt batch, no hooks at all."""
    gens = engine.generate(prompts, max_new_tokens=MAX_NEW)
    logp = engine.next_token_logprobs(prompts)
    return gens, logp


def _tokens(gens):
    return [g.token_ids for g in gens]


# ---------------------------------------------------------------- activations equal HF exactly
CAPTURE_PROMPTS_USER = ["Tell me about dust.", "What is the capital of France? Answer briefly."]


@pytest.fixture(scope="module")
def capture_case(lm, engine):
    prompts = [lm.chat_prompt(u) for u in CAPTURE_PROMPTS_USER] + ["Hello"]
    # Layers 0..n-2 only: HF's hidden_states[-1] is the last block's output *after* the
    # final norm, whereas capture returns the raw block output (checked separately below).
    layers = list(range(lm.n_layers - 1))
    acts_all = engine.capture(prompts, layers, positions="all")
    acts_last = engine.capture_last(prompts, layers)
    seqs = [engine.encode(p).ids for p in prompts]
    assert len({len(s) for s in seqs}) == len(seqs), "the batch must need padding"
    ids, mask, pos = engine._batch_inputs(seqs, 0)  # the padded batch the engine builds
    with torch.inference_mode():
        hs = lm.model(
            input_ids=ids, attention_mask=mask, position_ids=pos.position, output_hidden_states=True
        ).hidden_states
    return prompts, layers, seqs, acts_all, acts_last, pos, hs


def test_capture_all_positions_equals_hf_padded_batch(capture_case):
    _prompts, layers, seqs, acts_all, _last, pos, hs = capture_case
    for r, seq in enumerate(seqs):
        real = pos.valid[r].nonzero()[:, 0]
        assert len(real) == len(seq)
        assert acts_all[r].shape == (len(seq), len(layers), 576)
        for j, layer in enumerate(layers):
            assert torch.equal(acts_all[r][:, j], hs[layer + 1][r, real]), (r, layer)


def test_capture_last_position_equals_hf_padded_batch(capture_case):
    _prompts, layers, seqs, _all, acts_last, _pos, hs = capture_case
    assert acts_last.shape == (len(seqs), len(layers), 576)
    for j, layer in enumerate(layers):
        # left padding: the last column is every row's last real token
        assert torch.equal(acts_last[:, j], hs[layer + 1][:, -1]), layer


def test_capture_single_unpadded_equals_hf(lm, engine, capture_case):
    prompts, layers, seqs, *_ = capture_case
    for p, seq in zip(prompts, seqs, strict=True):
        acts = engine.capture([p], layers, positions="all")[0]
        with torch.inference_mode():
            hs = lm.model(input_ids=torch.tensor([seq]), output_hidden_states=True).hidden_states
        for j, layer in enumerate(layers):
            assert torch.equal(acts[:, j], hs[layer + 1][0]), (p[-20:], layer)


def test_capture_mean_is_the_span_mean_of_hf_hidden_states(lm, engine, capture_case):
    """Mean-pooled capture over a span equals the mean of HF's hidden states over exactly the
    span's tokens (unpadded), and a padded batch gives each row its own span's mean."""
    prompts, layers, *_ = capture_case
    span = "capital of France"
    p = prompts[1]
    row = engine.prepare([p], None).rows[0]
    start, end = Window.span_marker(span).resolve(len(row.ids), row.offsets, row.text)
    assert end - start >= 2
    got = engine.capture_mean([p], layers, positions=span)
    assert got.shape == (1, len(layers), 576)
    with torch.inference_mode():
        hs = lm.model(input_ids=torch.tensor([row.ids]), output_hidden_states=True).hidden_states
    for j, layer in enumerate(layers):
        assert torch.equal(got[0, j], hs[layer + 1][0, start:end].mean(dim=0)), layer
    windows = [Window.span_marker("dust"), Window.span_marker(span)]
    batch = engine.capture_mean(prompts[:2], layers, positions=windows)
    alone = engine.capture_mean([prompts[0]], layers, positions="dust")
    assert torch.allclose(batch[0], alone[0], rtol=1e-4, atol=1e-4)
    assert torch.allclose(batch[1], got[0], rtol=1e-4, atol=1e-4)


def test_capture_padded_vs_unpadded_close(engine, capture_case):
    prompts, layers, _seqs, acts_all, *_ = capture_case
    for r, p in enumerate(prompts):
        alone = engine.capture([p], layers, positions="all")[0]
        # Relative tolerance too: SmolLM2 has "massive activations" (~2.5e4) on the first
        # token, where float32 rounding alone is ~1e-3 absolute.
        assert torch.allclose(acts_all[r], alone, rtol=1e-4, atol=1e-4), r


def test_capture_with_prefix_reuse_close(engine, capture_case):
    prompts, layers, _seqs, _all, acts_last, *_ = capture_case
    chat = prompts[:2]  # share the system prompt, so a prefix is reused
    reused = engine.capture_last(chat, layers, reuse_prefix=True)
    assert torch.allclose(reused, acts_last[:2], rtol=1e-4, atol=1e-4)


def test_last_layer_capture_is_pre_final_norm(lm, engine, capture_case):
    _prompts, _layers, _seqs, _all, _last, _pos, hs = capture_case
    last = engine.capture_last(capture_case[0], [lm.n_layers - 1])[:, 0]
    with torch.inference_mode():
        normed = lm.model.model.norm(last)
    assert torch.allclose(normed, hs[-1][:, -1], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(last, hs[-1][:, -1], atol=1e-2)


def test_capture_refuses_last_and_points_to_capture_last(engine, capture_case):
    """``capture`` always returns one tensor per row; the stacked last-token form is
    ``capture_last``, so "last" is refused rather than read as a marker substring."""
    with pytest.raises(ValueError, match="capture_last"):
        engine.capture(capture_case[0], [0], positions="last")


# ------------------------------------------------------------------- windows hit exact tokens
def test_injection_windows_touch_exactly_their_tokens(lm, engine):
    """At the injected layer, steered - unsteered is strength * v exactly on the window's
    tokens and 0 elsewhere, for every window kind, in a padded batch."""
    user = "Repeat this sentence: the old clock ticked loudly in the hall."
    p = lm.chat_prompt(user)
    ids = engine.encode(p).ids
    n, layer, strength = len(ids), 7, 3.0
    v = torch.linspace(-1.0, 1.0, lm.hidden_size)
    cases = {
        "all": (Window.all(), set(range(n))),
        "generated": (Window.generated(), set()),
        "from_index": (Window.from_index(-4), set(range(n - 4, n))),
        "span": (Window.span(2, 5), {2, 3, 4}),
    }
    rows = [p] * len(cases) + [lm.chat_prompt("Hi")]
    injs = [Injection(v, (layer,), strength, w) for w, _ in cases.values()] + [None]
    base = engine.capture(rows, [layer], positions="all")
    steered = engine.capture(rows, [layer], positions="all", injections=injs)
    for r, (name, (_w, expected)) in enumerate(cases.items()):
        diff = (steered[r][:, 0] - base[r][:, 0]).abs().sum(-1)
        touched = {i for i in range(n) if diff[i] > 0}
        assert touched == expected, name
        for i in expected:
            assert torch.allclose(steered[r][i, 0] - base[r][i, 0], strength * v, atol=1e-2)
    assert torch.equal(steered[-1], base[-1])
    # marker windows: span_marker covers the marker's tokens, from_marker runs to the end
    mk = [
        Injection(v, (layer,), strength, Window.span_marker("the old clock")),
        Injection(v, (layer,), strength, Window.from_marker("the old clock")),
    ]
    steered = engine.capture([p, p], [layer], positions="all", injections=mk)
    span_rows = (steered[0][:, 0] - base[0][:, 0]).abs().sum(-1).nonzero()[:, 0].tolist()
    from_rows = (steered[1][:, 0] - base[0][:, 0]).abs().sum(-1).nonzero()[:, 0].tolist()
    start, end = span_rows[0], span_rows[-1] + 1
    assert span_rows == list(range(start, end))
    assert lm.tokenizer.decode(ids[start:end]).strip() == "the old clock"
    assert from_rows == list(range(start, n))


# ------------------------------------------------------------------------------- identity
def _identity_injections(concept_vs, lm, window_injected, window_zero):
    mid = lm.layer(0.5)
    return [
        concept_vs.injection("Trees", mid, 0.0, window_zero),  # strength 0
        None,
        concept_vs.injection("Trees", mid, 8.0, window_injected),
        None,
        None,
        concept_vs.injection("Dust", mid, 0.0, window_zero, mode="project_out"),
        None,
    ]


def _assert_identity(logp, gens, ref_logp, ref_gens, injected_row=2):
    for r in range(len(ref_gens)):
        if r == injected_row:
            assert not torch.equal(logp[r], ref_logp[r])
            assert gens[r].token_ids != ref_gens[r].token_ids
        else:
            assert torch.equal(logp[r], ref_logp[r]), f"row {r} logits changed"
            assert gens[r].token_ids == ref_gens[r].token_ids, f"row {r} tokens changed"


def test_identity_windows_after_shared_prefix(lm, engine, concept_vs, prompts, unhooked):
    """Strength-0 rows and uninjected rows are byte-identical to the unhooked batch."""
    ref_gens, ref_logp = unhooked
    injs = _identity_injections(
        concept_vs, lm, Window.from_marker("weather"), Window.from_index(-3)
    )
    before = count_hooks(lm.model)
    logp = engine.next_token_logprobs(prompts, injs)
    gens = engine.generate(prompts, injs, max_new_tokens=MAX_NEW)
    assert count_hooks(lm.model) == before
    _assert_identity(logp, gens, ref_logp, ref_gens)


def test_identity_window_all_without_prefix_reuse(lm, engine, concept_vs, prompts):
    """Windows covering the whole prompt: identical to the unhooked batch of the same shape."""
    p, n = prompts[:4], 16
    ref_logp = engine.next_token_logprobs(p, reuse_prefix=False)
    ref_gens = engine.generate(p, max_new_tokens=n, reuse_prefix=False)
    injs = _identity_injections(concept_vs, lm, Window.all(), Window.all())[:4]
    logp = engine.next_token_logprobs(p, injs, reuse_prefix=False)
    gens = engine.generate(p, injs, max_new_tokens=n, reuse_prefix=False)
    _assert_identity(logp, gens, ref_logp, ref_gens)


def test_identity_tokens_window_all_default_settings(lm, engine, concept_vs, prompts, unhooked):
    ref_gens, _ = unhooked
    injs = _identity_injections(concept_vs, lm, Window.all(), Window.all())
    gens = engine.generate(prompts, injs, max_new_tokens=MAX_NEW)
    for r in (0, 1, 3, 4, 5, 6):
        assert gens[r].token_ids == ref_gens[r].token_ids, r
    assert gens[2].token_ids != ref_gens[2].token_ids


def test_identity_logits_window_all_default_settings(lm, engine, concept_vs, prompts, unhooked):
    _, ref_logp = unhooked
    injs = _identity_injections(concept_vs, lm, Window.all(), Window.all())
    logp = engine.next_token_logprobs(prompts, injs)
    for r in (0, 1, 3, 4, 5, 6):
        assert torch.equal(logp[r], ref_logp[r]), f"row {r} logits changed"


# ----------------------------------------------------------------------- mixed batch == alone
def _mixed_injections(concept_vs, lm):
    return [
        concept_vs.injection("Trees", lm.layer(0.5), 4.0, Window.all()),
        None,
        concept_vs.injection("Lightning", 10, 6.0, Window.from_marker("weather")),
        concept_vs.injection("Sadness", 18, 8.0, Window.span_marker("the old clock ticked")),
        [
            concept_vs.injection("Cameras", 12, 6.0, Window.generated()),
            concept_vs.injection("Dust", 20, 1.0, Window.all(), mode="project_out"),
        ],
        concept_vs.injection("Phones", 16, 5.0, Window.from_index(-6)),
        None,
    ]


def test_mixed_batch_equals_each_row_alone(lm, engine, concept_vs, prompts, unhooked):
    injs = _mixed_injections(concept_vs, lm)
    batch = engine.generate(prompts, injs, max_new_tokens=MAX_NEW)
    alone = [
        engine.generate([p], [inj], max_new_tokens=MAX_NEW)[0]
        for p, inj in zip(prompts, injs, strict=True)
    ]
    assert _tokens(batch) == _tokens(alone)
    # ... and the injections did something (the test is not vacuous)
    ref = _tokens(unhooked[0])
    changed = [r for r in range(len(prompts)) if batch[r].token_ids != ref[r]]
    assert {1, 6}.isdisjoint(changed)
    assert len(changed) >= 4, changed


# ------------------------------------------------------------------ KV cache and prefix reuse
def _mid_prompt_rows(concept_vs, lm, prompts):
    # Windows start mid-prompt and run through every generated token; one row uninjected.
    return [prompts[1], prompts[2], prompts[3]], [
        None,
        concept_vs.injection("Lightning", lm.layer(0.5), 6.0, Window.from_marker("weather")),
        concept_vs.injection("Trumpets", 12, 6.0, Window.from_marker("old clock")),
    ]


def test_kv_cache_on_off_same_tokens(lm, engine, concept_vs, prompts, unhooked):
    p, injs = _mid_prompt_rows(concept_vs, lm, prompts)
    n = 12
    on = engine.generate(p, injs, max_new_tokens=n, use_cache=True)
    off = engine.generate(p, injs, max_new_tokens=n, use_cache=False)
    assert _tokens(on) == _tokens(off)
    ref = _tokens(unhooked[0])
    assert on[0].token_ids == ref[1][:n]
    assert on[1].token_ids != ref[2][:n]  # the injection mattered


def test_prefix_reuse_on_off_same_output_and_hits(lm, concept_vs, prompts):
    eng = Engine(lm)  # fresh prefix cache and stats
    p, injs = _mid_prompt_rows(concept_vs, lm, prompts)
    n = 10
    first = eng.generate(p, injs, max_new_tokens=n)
    assert eng.stats["prefix_misses"] == 1 and eng.stats["prefix_hits"] == 0
    assert eng.stats["prefix_tokens_reused"] > 0
    second = eng.generate(p, injs, max_new_tokens=n)
    assert eng.stats["prefix_hits"] == 1
    stats = dict(eng.stats)
    off = eng.generate(p, injs, max_new_tokens=n, reuse_prefix=False)
    assert eng.stats == stats  # no prefix used at all
    assert _tokens(first) == _tokens(second) == _tokens(off)
    # Scoring also reuses the cached prefix.
    lp_on = eng.next_token_logprobs(p, injs)
    assert eng.stats["prefix_hits"] == 2
    lp_off = eng.next_token_logprobs(p, injs, reuse_prefix=False)
    assert torch.allclose(lp_on, lp_off, atol=1e-4)


# --------------------------------------------------------------------------- seeded sampling
def test_seeded_sampling_independent_of_batchmates(engine, prompts):
    a = prompts[4]
    kw = {"max_new_tokens": 10, "temperature": 1.0}
    alone = engine.generate([a], seeds=[7], **kw)[0].token_ids
    mates1 = engine.generate([prompts[1], a, prompts[0]], seeds=[3, 7, 9], **kw)
    mates2 = engine.generate([a, prompts[6]], seeds=[7, 7], **kw)
    assert mates1[1].token_ids == alone
    assert mates2[0].token_ids == alone
    assert engine.generate([a], seeds=[8], **kw)[0].token_ids != alone
    # top-p sampling keeps the property
    kw_p = {**kw, "top_p": 0.9}
    alone_p = engine.generate([a], seeds=[11], **kw_p)[0].token_ids
    assert engine.generate([prompts[3], a], seeds=[1, 11], **kw_p)[1].token_ids == alone_p


def test_sampling_needs_one_seed_per_row(engine, prompts):
    with pytest.raises(ValueError, match="seed"):
        engine.generate(prompts[:2], temperature=1.0, seeds=[1], max_new_tokens=2)
    with pytest.raises(ValueError):
        engine.generate(prompts[:1], temperature=-1.0, max_new_tokens=2)


# ------------------------------------------------------------------------------- hook hygiene
class _Boom(RuntimeError):
    pass


def _bomb_on_call(n, exc=_Boom):
    calls = [0]

    def hook(_module, _args, _output):
        calls[0] += 1
        if calls[0] == n:
            raise exc("boom")

    return hook


def test_hooks_removed_after_exception_in_generation(lm, engine, concept_vs, prompts):
    p = prompts[:3]
    ref = engine.next_token_logprobs(p)
    before = count_hooks(lm.model)
    injs = [
        [
            concept_vs.injection("Trees", 5, 4.0, Window.all()),
            concept_vs.injection("Dust", 14, 4.0, Window.all()),
        ],
        None,
        concept_vs.injection("Sadness", 20, 4.0, Window.generated()),
    ]
    # Raise on the 3rd call of layer 5: the second decoding step, with the steering hooks
    # installed.
    handle = lm.layers[5].register_forward_hook(_bomb_on_call(3))
    try:
        with pytest.raises(_Boom):
            engine.generate(p, injs, max_new_tokens=8)
        assert count_hooks(lm.model) == before + 1  # only the test's own hook is left
    finally:
        handle.remove()
    assert count_hooks(lm.model) == before
    assert torch.equal(engine.next_token_logprobs(p), ref)


def test_hooks_removed_after_interrupt_in_capture_and_scoring(lm, engine, concept_vs, prompts):
    p = prompts[:2]
    ref = engine.next_token_logprobs(p)
    before = count_hooks(lm.model)
    injs = [concept_vs.injection("Trees", 3, 4.0, Window.all()), None]
    for call in (
        lambda: engine.capture(p, [3, 10, 25], positions="all", injections=injs),
        lambda: engine.continuation_logprobs(p, [" yes", " no"], injs),
    ):
        # Interrupt in layer 10's forward itself (monkeypatching the block's forward).
        layer = lm.layers[10]

        def boom(*_a, **_k):
            raise KeyboardInterrupt

        layer.forward = boom  # an instance attribute shadows the class's forward
        try:
            with pytest.raises(KeyboardInterrupt):
                call()
        finally:
            del layer.forward
        assert count_hooks(lm.model) == before
    assert torch.equal(engine.next_token_logprobs(p), ref)


def test_continuation_logprobs_equal_full_logits_of_hf(lm, engine, concept_vs, prompts):
    """Scoring runs the output head on the continuation's columns only; every score equals
    the one read from Hugging Face's logits over the whole padded batch (same inputs),
    bit for bit, for rows of different lengths and continuations of different lengths, with
    and without an injection."""
    conts = [" yes", " no, not at all", " maybe", " The cat sat on the mat."]
    rows = prompts[: len(conts)]
    injs = [None, concept_vs.injection("Trees", 6, 4.0, Window.all()), None, None]
    scored = engine.continuation_logprobs(rows, conts, injs, reuse_prefix=False)
    cont_ids = [lm.tokenizer(c, add_special_tokens=False)["input_ids"] for c in conts]
    assert len({len(c) for c in cont_ids}) > 1 and len({len(p) for p in rows}) > 1
    seqs = [engine.encode(p).ids + c for p, c in zip(rows, cont_ids, strict=True)]
    ids, mask, pos = engine._batch_inputs(seqs, 0)
    prep = engine.prepare(rows, injs, suffixes=cont_ids)
    hooks = engine._hooks(prep)
    with torch.inference_mode(), engine._maybe_active(hooks):
        if hooks is not None:
            hooks.positions = pos
        logits = lm.model(input_ids=ids, attention_mask=mask, position_ids=pos.position).logits
    logp = torch.log_softmax(logits.float(), dim=-1)
    width = logp.shape[1]
    expected = [
        float(logp[r, torch.arange(width - len(c) - 1, width - 1), torch.tensor(c)].sum())
        for r, c in enumerate(cont_ids)
    ]
    assert scored == expected
    # With prefix reuse (the default) the scores are the same numbers up to the prefix
    # pass's own rounding.
    reused = engine.continuation_logprobs(rows, conts, injs)
    assert reused == pytest.approx(expected, abs=1e-3)


# ---------------------------------------------------------------- positive control (statistical)
PC_USER = "Pick a topic and tell me about it."
PC_PREFILL = "Sure! Let's talk about"
PC_STRENGTH = 4.0
PC_SEEDS = (0, 1, 2)


def test_positive_control_concept_beats_random(lm, engine, concept_vs, concept_words):
    """Injecting a concept's vector at mid-depth raises the log-probability of the concept's
    word as the continuation of a neutral prompt more than norm-matched random vectors do.

    Setup (measured, not guessed): layer 0.5 depth (14 of 30), strength 4, injected over the
    user turn, the assistant prefill and the scored word. Strengths 2-8 all work; 4 gives the
    clearest separation. Three random seeds per concept form the control.
    """
    layer = lm.layer(0.5)
    prompt = lm.chat_prompt(PC_USER, prefill=PC_PREFILL)
    window = Window.from_marker(PC_USER)
    rows, conts, injs = [], [], []
    for w in concept_words:
        v = concept_vs.get(w, layer)
        for vec in [v, *(random_like(v, s) for s in PC_SEEDS)]:
            rows.append(prompt)
            conts.append(" " + w.lower())
            injs.append(Injection(vec, (layer,), PC_STRENGTH, window))
    scored = engine.continuation_logprobs(rows, conts, injs)
    base = engine.continuation_logprobs([prompt] * len(concept_words), conts[:: len(PC_SEEDS) + 1])
    k = len(PC_SEEDS) + 1
    wins, margins, deltas = 0, [], []
    print(f"\npositive control: layer {layer}, strength {PC_STRENGTH}, seeds {PC_SEEDS}")
    print(f"{'concept':16s} {'base':>8s} {'d_concept':>10s} {'d_random (per seed)':>24s}")
    for i, w in enumerate(concept_words):
        c, *r = scored[k * i : k * (i + 1)]
        d_c, d_r = c - base[i], [x - base[i] for x in r]
        mean_r = sum(d_r) / len(d_r)
        wins += d_c > mean_r
        margins.append(d_c - mean_r)
        deltas.append(d_c)
        print(f"{w:16s} {base[i]:8.2f} {d_c:+10.2f} {' '.join(f'{x:+7.2f}' for x in d_r):>24s}")
    n = len(concept_words)
    mean_margin = sum(margins) / n
    print(f"concept > mean(random) for {wins}/{n}; mean margin {mean_margin:+.2f} nats")
    assert n >= 12
    assert wins >= 0.75 * n
    assert mean_margin > 0.5
    assert sum(deltas) / n > 0.5  # the concept vector itself raises the word's log-prob
