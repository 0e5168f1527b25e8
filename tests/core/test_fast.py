"""Fast mode (fast.py): it runs, in the hardware's fast reduced precision, on a copy that
leaves the caller's model alone; exact mode is untouched; specs, the CLI and the run
manifest carry the mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from introscope.cli import app
from introscope.core import fast as fast_module
from introscope.core.engine import Engine
from introscope.core.fast import fast_dtype
from introscope.core.models import from_modules
from introscope.runner import run_spec
from introscope.spec import dump_digest, override, validate_spec
from introscope.store import read_manifest
from support import BUNDLED_VOCAB

TEXTS = [
    "<|im_start|>user\nTell me about the sea.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
]


def _tokenizer():
    from transformers import AutoTokenizer

    from introscope.core.models import bundled_gguf_path, gguf_cache_dir

    return AutoTokenizer.from_pretrained(str(gguf_cache_dir(bundled_gguf_path())))


def _tiny_lm(make_tiny):
    return from_modules(make_tiny("llama", n_layers=3, vocab_size=BUNDLED_VOCAB), _tokenizer())


def _fast_label(lm):
    """The model dtype a fast engine records: float32 where no reduced precision is fast,
    else the mixed precision fast mode converts a float32 model to."""
    target = fast_dtype(lm.device)
    if target == torch.float32:
        return "float32"
    return f"float32+{fast_module.FAST_PRECISION}-{str(target).replace('torch.', '')}"


def test_fast_mode_runs_on_a_copy_and_exact_mode_is_untouched(make_tiny):
    lm = _tiny_lm(make_tiny)
    exact = Engine(lm)
    before_gen = exact.generate(TEXTS, max_new_tokens=6)
    before_lp = exact.next_token_logprobs(TEXTS)
    params = [p.clone() for p in lm.model.parameters()]

    fast = Engine(lm, fast=True)
    assert fast.mode == "fast" and exact.mode == "exact"
    assert fast.lm.info.dtype == _fast_label(lm)
    gens = fast.generate(TEXTS, max_new_tokens=6)
    lp = fast.next_token_logprobs(TEXTS)
    assert all(len(g.token_ids) > 0 for g in gens)
    assert lp.dtype == torch.float32 and torch.isfinite(lp).all()
    if fast.lm is not lm:
        assert fast.lm.model is not lm.model
        assert not torch.equal(lp, before_lp)  # it really ran in another precision
        assert (lp - before_lp).abs().max() < 0.5

    # The caller's model and an exact engine on it are exactly as before.
    assert lm.dtype == torch.float32
    assert all(torch.equal(a, b) for a, b in zip(params, lm.model.parameters(), strict=True))
    after = Engine(lm)
    assert torch.equal(after.next_token_logprobs(TEXTS), before_lp)
    assert [g.token_ids for g in after.generate(TEXTS, max_new_tokens=6)] == [
        g.token_ids for g in before_gen
    ]


def test_fast_mode_on_bfloat16_hardware_is_mixed_precision(make_tiny, monkeypatch):
    """Where bfloat16 is fast, the blocks' linear layers multiply in bfloat16 and the
    embeddings, norms, residual stream and output head stay float32 (forced here)."""
    lm = _tiny_lm(make_tiny)
    exact_lp = Engine(lm).next_token_logprobs(TEXTS)
    monkeypatch.setattr(fast_module, "fast_dtype", lambda device: torch.bfloat16)
    eng = Engine(lm, fast=True)
    assert eng.lm.info.dtype == "float32+blocks-bfloat16" and eng.lm.dtype == torch.float32
    reduced = [m for m in eng.lm.model.modules() if isinstance(m, fast_module.ReducedLinear)]
    assert len(reduced) == 3 * 7  # q, k, v, o, gate, up, down in each of the 3 blocks
    assert all(m.weight.dtype == torch.bfloat16 for m in reduced)
    assert eng.lm.model.lm_head.weight.dtype == torch.float32
    assert not any(isinstance(m, fast_module.ReducedLinear) for m in lm.model.modules())
    lp = eng.next_token_logprobs(TEXTS)
    assert not torch.equal(lp, exact_lp) and (lp - exact_lp).abs().max() < 0.5
    assert all(len(g.token_ids) > 0 for g in eng.generate(TEXTS, max_new_tokens=4))
    # The variants bench_fast.py measures.
    mlp = fast_module.mixed_model(lm, "mlp")
    assert sum(isinstance(m, fast_module.ReducedLinear) for m in mlp.model.modules()) == 3 * 3
    weights = fast_module.mixed_model(lm, "weights")
    w_lp = Engine(weights).next_token_logprobs(TEXTS)
    assert (w_lp - exact_lp).abs().max() < 0.5
    with pytest.raises(ValueError, match="unknown precision"):
        fast_module.mixed_model(lm, "half")  # type: ignore[arg-type]


def test_fast_engine_keeps_a_model_already_in_reduced_precision(make_tiny):
    lm = _tiny_lm(make_tiny)
    lm.model.to(torch.bfloat16)
    eng = Engine(lm, fast=True)
    assert eng.lm is lm
    gens = eng.generate(TEXTS, max_new_tokens=4)  # hooks and cache in bfloat16
    assert all(len(g.token_ids) > 0 for g in gens)


def _spec(**extra):
    return validate_spec(
        {
            "name": "sc",
            "experiment": "steering_check",
            "measure": "logits",
            "batch_size": 64,
            "grid": {
                "concepts": ["Dust", "Trees"],
                "layers": [1],
                "strengths": [4.0],
                "controls": ["concept"],
            },
            **extra,
        },
        "test",
    )


def test_spec_and_cli_carry_the_mode_and_exact_digests_do_not_change():
    exact, fast = _spec(), _spec(fast=True)
    assert not exact.fast and fast.fast
    dump = exact.model_dump(mode="json")
    assert "fast" in dump
    assert exact.digest() == dump_digest({k: v for k, v in dump.items() if k != "fast"})
    assert fast.digest() != exact.digest()
    assert override(exact, fast=True).fast and not override(exact).fast
    runner = CliRunner()
    for cmd in ("run", "battery"):
        res = runner.invoke(app, [cmd, "--help"], env={"COLUMNS": "200"})
        assert "--fast" in res.output, cmd


def test_manifest_records_the_mode(make_tiny, tmp_path: Path):
    lm = _tiny_lm(make_tiny)
    run_spec(_spec(fast=True), tmp_path / "fast", lm=lm)
    manifest = read_manifest(tmp_path / "fast")
    assert manifest["engine_mode"] == "fast"
    assert manifest["model"]["dtype"] == _fast_label(lm)
    assert manifest["specs"][0]["fast"] is True
    run_spec(_spec(), tmp_path / "exact", lm=lm)
    manifest = read_manifest(tmp_path / "exact")
    assert manifest["engine_mode"] == "exact" and manifest["model"]["dtype"] == "float32"


def test_compile_is_a_fast_mode_option(make_tiny):
    lm = _tiny_lm(make_tiny)
    with pytest.raises(ValueError, match="fast-mode option"):
        Engine(lm, compile=True)


def test_compile_failure_falls_back_to_the_uncompiled_blocks(make_tiny, monkeypatch):
    lm = _tiny_lm(make_tiny)
    reference = Engine(lm, fast=True)  # fast mode without compiling
    want_gen = [g.token_ids for g in reference.generate(TEXTS, max_new_tokens=5)]
    want_lp = reference.next_token_logprobs(TEXTS)

    def broken_compile(fn, **_kwargs):
        def run(*_a, **_k):
            raise RuntimeError("InductorError: no working C++ compiler\nmore detail")

        return run

    monkeypatch.setattr(fast_module.torch, "compile", broken_compile)
    eng = Engine(lm, fast=True, compile=True)
    assert eng.lm.model is not lm.model  # the caller's blocks are left uncompiled
    assert all("forward" not in layer.__dict__ for layer in lm.layers)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no working C\\+\\+ compiler"):
        gens = eng.generate(TEXTS, max_new_tokens=5)
    assert [g.token_ids for g in gens] == want_gen
    assert torch.equal(eng.next_token_logprobs(TEXTS), want_lp)
    failures = {layer.forward.failure for layer in eng.lm.layers}
    assert failures == {"RuntimeError: InductorError: no working C++ compiler"}


@pytest.mark.slow
def test_compiled_blocks_agree_with_exact_mode_within_the_bound(make_tiny):
    """Inductor fuses operations, so the last bits move (measured on a 2-layer llama:
    |d logit| ~1e-7): greedy tokens must agree and the readout stay within 1e-4."""
    lm = _tiny_lm(make_tiny)
    exact = Engine(lm)
    eng = Engine(lm, fast=True, compile=True)
    want = [g.token_ids for g in exact.generate(TEXTS, max_new_tokens=6)]
    got = [g.token_ids for g in eng.generate(TEXTS, max_new_tokens=6)]
    assert all(layer.forward.failure is None for layer in eng.lm.layers)
    assert got == want
    dev = (eng.next_token_logprobs(TEXTS) - exact.next_token_logprobs(TEXTS)).abs().max()
    assert float(dev) < 1e-4
