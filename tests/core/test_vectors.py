"""Vector files and controls, injection validation, model-loading errors and the model cache."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import introscope
from introscope.core.models import (
    BUNDLED_FILE,
    LoadedModel,
    bundled_gguf_path,
    cache_root,
    file_fingerprint,
    from_modules,
    load_model,
)
from introscope.core.steering import Injection, Window, count_hooks
from introscope.core.vectors import (
    VectorSet,
    baseline_pair,
    concept_vectors,
    control_vector,
    load_vectors,
    negated,
    random_like,
    save_vectors,
)
from introscope.errors import InjectionError, ModelLoadError, VectorError
from introscope.words import word_list


# ------------------------------------------------------------------------------- file I/O
def test_concept_vectors_shape_and_metadata(lm, concept_vs, concept_words):
    assert concept_vs.names == concept_words
    for w in concept_words:
        v = concept_vs.get(w)
        assert v.shape == (lm.n_layers, lm.hidden_size)
        assert torch.isfinite(v).all()
    assert concept_vs.get("dust") is concept_vs.get("Dust")  # case-insensitive lookup
    with pytest.raises(VectorError, match="No vector named"):
        concept_vs.get("Unobtainium")
    assert concept_vs.model_id == lm.info.name_or_path
    assert concept_vs.weights_hash == lm.info.weights_hash
    assert concept_vs.method == "concept"
    assert "{word}" in concept_vs.prompt_template


def test_save_load_round_trip(lm, concept_vs, tmp_path):
    path = save_vectors(concept_vs, tmp_path / "sub" / "concepts")  # suffix added
    assert path.name == "concepts.safetensors" and path.is_file()
    loaded = load_vectors(path, lm)  # checks the model too
    assert loaded.names == concept_vs.names
    for n in concept_vs.names:
        assert torch.equal(loaded.get(n), concept_vs.get(n))
    for f in ("model_id", "weights_hash", "hidden_size", "n_layers", "method", "prompt_template"):
        assert getattr(loaded, f) == getattr(concept_vs, f), f
    assert loaded.extra == concept_vs.extra
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["model_id"] == lm.info.name_or_path
    assert meta["weights_hash"] == lm.info.weights_hash
    assert meta["layers"] == "all" and meta["n_layers"] == str(lm.n_layers)
    assert meta["method"] == "concept"
    assert meta["prompt_template"] == concept_vs.prompt_template
    assert meta["introscope_version"] == introscope.__version__
    assert json.loads(meta["names"]) == concept_vs.names


def _small_set(lm, **kw):
    fields = {
        "vectors": {"a": torch.ones(lm.n_layers, lm.hidden_size)},
        "model_id": lm.info.name_or_path,
        "weights_hash": lm.info.weights_hash,
        "hidden_size": lm.hidden_size,
        "n_layers": lm.n_layers,
        "method": "concept",
    }
    fields.update(kw)
    return VectorSet(**fields)


def test_load_for_other_hidden_size_refused(lm, make_tiny, tmp_path):
    tiny = from_modules(make_tiny("llama", n_layers=lm.n_layers), None, name="tiny-llama")
    path = save_vectors(_small_set(lm), tmp_path / "v.safetensors")
    with pytest.raises(VectorError, match=r"hidden size 576.*not for tiny-llama \(32, 30 layers\)"):
        load_vectors(path, tiny)


def test_load_for_other_weights_refused(lm, tmp_path):
    other = LoadedModel(
        lm.model,
        lm.tokenizer,
        dataclasses.replace(lm.info, weights_hash="0123456789abcdef"),
        lm.layers,
    )
    path = save_vectors(_small_set(lm), tmp_path / "v.safetensors")
    with pytest.raises(VectorError, match=r"weights .*0123456789abcdef.*rebuild"):
        load_vectors(path, other)
    assert load_vectors(path, lm).names == ["a"]  # the right model is accepted


def test_load_bad_files(lm, tmp_path):
    with pytest.raises(VectorError, match="does not exist"):
        load_vectors(tmp_path / "missing.safetensors")
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(3)}, str(plain))
    with pytest.raises(VectorError, match="not an introscope vector file"):
        load_vectors(plain)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(VectorError, match="Could not read"):
        load_vectors(junk)
    bad = _small_set(lm, vectors={"nan": torch.full((lm.n_layers, lm.hidden_size), math.nan)})
    path = save_vectors(bad, tmp_path / "nan.safetensors")
    with pytest.raises(VectorError, match="NaN"):
        load_vectors(path)


# ------------------------------------------------------------------------------- controls
def test_random_like_norm_matched_per_layer(concept_vs):
    v = concept_vs.get("Dust")
    r = random_like(v, seed=0)
    assert r.shape == v.shape
    assert torch.allclose(r.norm(dim=-1), v.norm(dim=-1), rtol=1e-5)
    assert torch.equal(r, random_like(v, seed=0))  # seeded
    assert not torch.allclose(r, random_like(v, seed=1))
    cos = torch.nn.functional.cosine_similarity(r, v, dim=-1)
    assert cos.abs().max() < 0.25  # a random direction in 576 dims
    one = random_like(v[14], seed=3)  # a single layer's vector works too
    assert one.shape == (576,) and math.isclose(
        float(one.norm()), float(v[14].norm()), rel_tol=1e-5
    )


def test_negated_and_control_vector(concept_vs):
    v = concept_vs.get("Trees")
    assert torch.equal(negated(v), -v)
    assert torch.equal(control_vector(concept_vs, "Trees", "negated"), -v)
    assert torch.equal(control_vector(concept_vs, "Trees", "none"), v)
    assert torch.equal(control_vector(concept_vs, "Trees", "concept"), v)
    assert torch.equal(control_vector(concept_vs, "Trees", "random", seed=4), random_like(v, 4))
    with pytest.raises(VectorError, match="Unknown control"):
        control_vector(concept_vs, "Trees", "sideways")


def test_other_concept_control(concept_vs):
    v = concept_vs.get("Trees")
    o = control_vector(concept_vs, "Trees", "other", other="Dust")
    dust = concept_vs.get("Dust")
    # the other concept's direction, rescaled to this concept's norm at every layer
    assert torch.allclose(o.norm(dim=-1), v.norm(dim=-1), rtol=1e-5)
    cos = torch.nn.functional.cosine_similarity(o, dust, dim=-1)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-5)
    # a seeded pick is another concept's direction, never the concept itself
    names = concept_vs.names
    picked = set()
    for seed in range(4):
        c = control_vector(concept_vs, "Trees", "other", seed=seed)[14]
        cos = torch.stack([torch.cosine_similarity(c, concept_vs.get(n, 14), dim=0) for n in names])
        best = int(torch.argmax(cos))
        assert math.isclose(float(cos[best]), 1.0, abs_tol=1e-5)
        assert names[best] != "Trees"
        picked.add(names[best])
    assert len(picked) > 1  # the seed changes the pick
    single = VectorSet({"a": v}, "m", "h", 576, 30, "concept")
    with pytest.raises(VectorError, match="at least two"):
        control_vector(single, "a", "other")


# -------------------------------------------------------------------- injection validation
def test_injection_rejects_bad_vectors():
    with pytest.raises(InjectionError, match="NaN or infinite"):
        Injection(torch.tensor([1.0, math.nan, 0.0]), (3,))
    with pytest.raises(InjectionError, match="NaN or infinite"):
        Injection(torch.tensor([1.0, math.inf, 0.0]), (3,))
    with pytest.raises(InjectionError, match="1-D"):
        Injection(torch.zeros(2, 3), (3,))
    with pytest.raises(InjectionError, match="strength"):
        Injection(torch.ones(3), (3,), strength=math.nan)
    with pytest.raises(InjectionError, match="mode"):
        Injection(torch.ones(3), (3,), mode="multiply")  # type: ignore[arg-type]
    with pytest.raises(InjectionError, match="zero vector"):
        Injection(torch.zeros(3), (3,), mode="project_out")


def test_engine_rejects_bad_injections(lm, engine):
    prompt = lm.chat_prompt("Say hello.")
    before = count_hooks(lm.model)
    with pytest.raises(InjectionError, match=r"size 64.*hidden size is 576"):
        engine.generate([prompt], [Injection(torch.ones(64), (3,))], max_new_tokens=2)
    with pytest.raises(InjectionError, match=r"'zebra' does not occur"):
        engine.generate(
            [prompt], [Injection(torch.ones(576), (3,), 1.0, Window.from_marker("zebra"))]
        )
    with pytest.raises(InjectionError, match="outside the prompt"):
        engine.next_token_logprobs(
            [prompt], [Injection(torch.ones(576), (3,), 1.0, Window.from_index(10_000))]
        )
    with pytest.raises(InjectionError, match="empty or runs past"):
        engine.next_token_logprobs(
            [prompt], [Injection(torch.ones(576), (3,), 1.0, Window.span(5, 5))]
        )
    from introscope.errors import LayerError

    with pytest.raises(LayerError, match="out of range"):
        engine.next_token_logprobs([prompt], [Injection(torch.ones(576), (30,))])
    assert count_hooks(lm.model) == before


@pytest.mark.parametrize(
    "text", ["sideways", "from:", "from:1:2:3", "", "span", "to:3", "span:3", "span:1:2:3"]
)
def test_bad_window_string(text):
    with pytest.raises(InjectionError, match="is not one of"):
        Window.parse(text)


def test_window_parse_good_strings():
    assert Window.parse("all") == Window.all()
    assert Window.parse("generated") == Window.generated()
    assert Window.parse("from:12") == Window.from_index(12)
    assert Window.parse("from:-5") == Window.from_index(-5)
    assert Window.parse('from:"the cat"') == Window.from_marker("the cat")
    assert Window.parse("span:3:9") == Window.span(3, 9)
    assert Window.parse("span:'x y'") == Window.span_marker("x y")
    # unquoted text is a marker too, as long as it is not just numbers
    assert Window.parse("from:Trial 1") == Window.from_marker("Trial 1")
    assert Window.parse("span:the cat") == Window.span_marker("the cat")


# ------------------------------------------------------------------------- model loading
def test_unknown_hub_id_is_model_load_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        load_model("no-such-org/no-such-model", device="cpu")
    msg = str(info.value)
    assert "no-such-org/no-such-model" in msg
    assert "hf download" in msg and "allow_download" in msg


@pytest.mark.parametrize(
    "spec", ["/nonexistent/dir/model", "./missing-model.gguf", "~/no/such/thing.safetensors"]
)
def test_nonexistent_path_is_model_load_error(spec):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(spec, device="cpu")


def test_directory_without_config_is_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        load_model(str(tmp_path), device="cpu")


def test_bad_device_and_dtype():
    with pytest.raises(ModelLoadError, match="Unknown device 'tpu'"):
        load_model("no-such-org/x", device="tpu")
    with pytest.raises(ModelLoadError, match="Unknown dtype 'float8'"):
        load_model("no-such-org/x", device="cpu", dtype="float8")
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="no CUDA GPU"):
            load_model("no-such-org/x", device="cuda")


# --------------------------------------------------------------------------- model cache
def _cache_dir(lm):
    gguf = bundled_gguf_path()
    return cache_root() / "gguf" / f"{gguf.stem}-{file_fingerprint([gguf])}"


def test_bundled_model_info(lm):
    assert lm.info.source == "bundled-gguf"
    assert lm.n_layers == 30 and lm.hidden_size == 576
    assert lm.info.layers_path == "model.layers"
    assert lm.info.weights_hash == file_fingerprint([bundled_gguf_path()])
    assert len(lm.layers) == 30


def test_model_cache_is_complete(lm):
    d = _cache_dir(lm)
    marker = d / "introscope-complete.json"
    assert marker.is_file()
    info = json.loads(marker.read_text())
    assert info["fingerprint"] == lm.info.weights_hash
    assert info["gguf"].endswith(BUNDLED_FILE)
    assert (d / "config.json").is_file() and (d / "model.safetensors").is_file()
    assert any(d.glob("tokenizer*"))
    assert not list(d.parent.glob(".tmp-*"))  # no half-written conversion left behind


@pytest.mark.slow
def test_cached_model_logits_equal_direct_gguf(lm):
    """Slow (~40 s): dequantize the GGUF again and compare logits with the cached model."""
    from transformers import AutoModelForCausalLM

    gguf = bundled_gguf_path()
    direct = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    ).eval()
    ids = torch.tensor([lm.encode(lm.chat_prompt("Tell me about the ocean."))])
    with torch.inference_mode():
        a = direct(input_ids=ids).logits
        b = lm.model(input_ids=ids).logits
    assert torch.equal(a, b)


def test_matched_random_control(concept_vs):
    """The difference of two baseline words' activations, rescaled: the concept vector's norm
    at every layer, not its direction, seeded, and reproducible from a saved file."""
    v = concept_vs.get("Trees")
    base = concept_vs.baseline
    assert base is not None and base.shape[1:] == v.shape and base.shape[0] == 99
    m = control_vector(concept_vs, "Trees", "matched_random", seed=5)
    assert torch.allclose(m.norm(dim=-1), v.norm(dim=-1), rtol=1e-5)
    # Not the concept's direction: over concepts and seeds the cosine averages 0 at every
    # layer. Single draws can lean toward it (both live in the few directions along which
    # activations vary most: |cos| up to ~0.9 at layer 0 of the bundled model), never onto it.
    cos = torch.stack(
        [
            torch.nn.functional.cosine_similarity(
                control_vector(concept_vs, w, "matched_random", seed=s), concept_vs.get(w), dim=-1
            )
            for w in concept_vs.names
            for s in range(10)
        ]
    )
    assert cos.mean(0).abs().max() < 0.1
    assert cos.abs().mean(0).max() < 0.45
    assert cos.abs().max() < 0.99
    i, j = baseline_pair(base.shape[0], 5)
    assert i != j
    want = torch.nn.functional.cosine_similarity(m, base[i] - base[j], dim=-1)
    assert torch.allclose(want, torch.ones_like(want), atol=1e-5)
    assert torch.equal(m, control_vector(concept_vs, "Trees", "matched_random", seed=5))
    assert not torch.allclose(m, control_vector(concept_vs, "Trees", "matched_random", seed=6))
    # unlike an isotropic Gaussian, it lies where the model's activations vary: its
    # projection on the top principal directions of the baseline words is far larger
    layer = 15
    _, _, vh = torch.linalg.svd(base[:, layer] - base[:, layer].mean(0), full_matrices=False)
    top = vh[:10]
    share = lambda x: float((top @ x).norm() / x.norm())  # noqa: E731
    assert share(m[layer]) > 3 * share(random_like(v, 5)[layer])


def test_baseline_is_kept_only_when_asked(lm, engine):
    base = word_list("baseline")[:4]
    assert concept_vectors(engine, ["Dust"], baseline=base).baseline is None
    kept = concept_vectors(engine, ["Dust"], baseline=base, keep_baseline=True)
    assert kept.baseline is not None
    assert kept.baseline.shape == (4, lm.n_layers, lm.hidden_size)
    # centred on the same mean the concept vector subtracts
    assert torch.allclose(
        kept.baseline.mean(0), torch.zeros(lm.n_layers, lm.hidden_size), atol=1e-3
    )


def test_matched_random_needs_baseline_and_survives_a_file(lm, concept_vs, tmp_path):
    path = save_vectors(concept_vs, tmp_path / "v.safetensors")
    loaded = load_vectors(path, lm)
    assert loaded.baseline is not None and torch.equal(loaded.baseline, concept_vs.baseline)
    assert torch.equal(
        control_vector(loaded, "Dust", "matched_random", seed=2),
        control_vector(concept_vs, "Dust", "matched_random", seed=2),
    )
    old = dataclasses.replace(concept_vs, baseline=None)  # a file from before the control
    with pytest.raises(VectorError, match=r"no baseline-word activations.*rebuild"):
        control_vector(old, "Dust", "matched_random")
    old_path = save_vectors(old, tmp_path / "old.safetensors")
    assert load_vectors(old_path, lm).baseline is None


def test_other_control_picks_from_a_pool(concept_vs):
    v = concept_vs.get("Trees")
    for seed in range(6):
        o = control_vector(concept_vs, "Trees", "other", seed=seed, pool=["Trees", "Dust"])
        cos = torch.nn.functional.cosine_similarity(o, concept_vs.get("Dust"), dim=-1)
        assert torch.allclose(cos, torch.ones_like(cos), atol=1e-5)
        assert torch.allclose(o.norm(dim=-1), v.norm(dim=-1), rtol=1e-5)
    with pytest.raises(VectorError, match="at least two"):
        control_vector(concept_vs, "Trees", "other", pool=["Trees"])
