"""Layer locator and layer specs on tiny random models of every supported architecture, and
the engine (capture + injection) on a tiny llama and a tiny gpt2."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from introscope.core.engine import Engine
from introscope.core.layers import locate_layers, resolve_layer, resolve_layers
from introscope.core.models import from_modules
from introscope.core.steering import Injection, Window, count_hooks
from introscope.errors import LayerError
from support import BUNDLED_VOCAB, TINY_ARCHS

N = 13  # enough layers for the spec "12" to be valid and "13" out of range


def _attr(obj: object, path: str) -> object:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.fixture(scope="module", params=sorted(TINY_ARCHS))
def tiny(request, make_tiny):
    arch = request.param
    return arch, make_tiny(arch, n_layers=N)


def test_locate_layers_finds_decoder_blocks(tiny):
    arch, model = tiny
    path, block_cls = TINY_ARCHS[arch]
    layers, found_path = locate_layers(model)
    assert found_path == path
    assert isinstance(layers, nn.ModuleList)
    assert len(layers) == N == model.config.num_hidden_layers
    assert layers is _attr(model, path)
    assert all(type(b).__name__ == block_cls for b in layers)
    # The located blocks are the ones the forward pass runs: a hook on each fires once.
    calls: list[int] = []
    handles = [
        b.register_forward_hook(lambda *_a, i=i: calls.append(i)) for i, b in enumerate(layers)
    ]
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([[3, 4, 5]]))
    finally:
        for h in handles:
            h.remove()
    assert calls == list(range(N))


def test_from_modules_describes_tiny_model(tiny):
    arch, model = tiny
    lm = from_modules(model, None, name=f"tiny-{arch}")
    assert lm.n_layers == N
    assert lm.hidden_size == 32
    assert lm.info.layers_path == TINY_ARCHS[arch][0]
    assert lm.info.model_type == model.config.model_type
    assert len(lm.info.weights_hash) == 16


def test_resolve_layer_specs(tiny):
    arch, model = tiny
    lm = from_modules(model, None, name=f"tiny-{arch}")
    assert lm.layer(3) == 3
    assert lm.layer(0) == 0
    assert lm.layer(-1) == N - 1
    assert lm.layer(-N) == 0
    assert lm.layer(0.67) == round(0.67 * (N - 1)) == 8
    assert lm.layer(0.0) == 0
    assert lm.layer(1.0) == N - 1  # a float is a depth fraction, an int an index
    assert lm.layer(1) == 1
    assert lm.layer("12") == 12
    assert lm.layer("-1") == N - 1
    assert lm.layer("0.5") == round(0.5 * (N - 1)) == 6
    assert lm.layer("50%") == 6
    assert lm.layer(" 67% ") == 8
    assert lm.layer_indices([0.5, "6", -1, 12]) == (6, 12)


@pytest.mark.parametrize("spec", [N, -N - 1, "13", "-14", 100])
def test_resolve_layer_out_of_range_names_range(spec):
    with pytest.raises(LayerError, match=rf"out of range.*{N} decoder layers.*-{N}\.\.{N - 1}"):
        resolve_layer(spec, N)


@pytest.mark.parametrize("spec", [1.5, -0.1, "150%", "1.01", float("nan")])
def test_resolve_depth_fraction_out_of_range(spec):
    with pytest.raises(LayerError, match=r"outside \[0, 1\]"):
        resolve_layer(spec, N)


@pytest.mark.parametrize("spec", ["twelve", "", "1/2", True, None, [3]])
def test_resolve_layer_malformed(spec):
    with pytest.raises(LayerError):
        resolve_layer(spec, N)


def test_resolve_layers_empty():
    with pytest.raises(LayerError, match="No layer"):
        resolve_layers([], N)


def test_bundled_depth_fraction():
    # The bundled model has 30 layers: 0.67 -> round(0.67 * 29) = 19, mid-depth -> 14.
    assert resolve_layer(0.67, 30) == 19
    assert resolve_layer("50%", 30) == round(0.5 * 29) == 14


class _Custom(nn.Module):
    """A decoder-like module whose architecture introscope does not know."""

    def __init__(self, model_type: str = "mystery-net") -> None:
        super().__init__()
        self.config = SimpleNamespace(model_type=model_type, hidden_size=8)
        self.backbone = nn.Module()
        self.backbone.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(5)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.backbone.blocks:
            x = b(x)
        return x


def test_unknown_architecture_asks_for_layers_path():
    with pytest.raises(LayerError, match=r"mystery-net.*layers_path"):
        locate_layers(_Custom())
    with pytest.raises(LayerError, match="layers_path"):
        from_modules(_Custom(), None)


def test_explicit_layers_path_override():
    model = _Custom()
    layers, path = locate_layers(model, "backbone.blocks")
    assert path == "backbone.blocks" and layers is model.backbone.blocks and len(layers) == 5
    lm = from_modules(model, None, layers_path="backbone.blocks")
    assert lm.n_layers == 5 and lm.info.layers_path == "backbone.blocks"
    assert lm.layer(0.5) == 2


def test_wrong_layers_path_is_a_layer_error(make_tiny):
    with pytest.raises(LayerError, match=r"'backbone\.nope'.*layers_path"):
        locate_layers(_Custom(), "backbone.nope")
    # A path to something that is not a ModuleList is refused too.
    with pytest.raises(LayerError, match="layers_path"):
        locate_layers(make_tiny("llama"), "model.embed_tokens")


def test_layers_path_override_on_known_architecture(make_tiny):
    model = make_tiny("gpt2", n_layers=3)
    layers, path = locate_layers(model, "transformer.h")
    assert path == "transformer.h" and layers is model.transformer.h
    # An override wins over the registry even for a known model_type.
    sub = nn.ModuleList(list(model.transformer.h)[:2])
    model.alt_blocks = sub
    layers, path = locate_layers(model, "alt_blocks")
    assert path == "alt_blocks" and len(layers) == 2


# --------------------------------------------------------------------- engine on tiny models
ENGINE_ARCHS = ["llama", "gpt2"]
TINY_LAYERS = 4
TINY_PROMPTS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Hello there",
    "A third prompt, of middling length.",
]


@pytest.fixture(scope="module", params=ENGINE_ARCHS)
def tiny_engine(request, make_tiny, lm):
    """A tiny random model sharing the bundled tokenizer (vocab 49152), wrapped in an Engine."""
    model = make_tiny(request.param, n_layers=TINY_LAYERS, vocab_size=BUNDLED_VOCAB, seed=1)
    return Engine(from_modules(model, lm.tokenizer, name=f"tiny-{request.param}"))


def test_tiny_capture_equals_hf_hidden_states(tiny_engine):
    eng = tiny_engine
    layers = list(range(TINY_LAYERS - 1))  # hidden_states[-1] is post final norm
    acts = eng.capture(TINY_PROMPTS, layers, positions="all")
    seqs = [eng.encode(p).ids for p in TINY_PROMPTS]
    assert len({len(s) for s in seqs}) == len(seqs)  # really a padded batch
    ids, mask, pos = eng._batch_inputs(seqs, 0)
    with torch.inference_mode():
        hs = eng.model(
            input_ids=ids, attention_mask=mask, position_ids=pos.position, output_hidden_states=True
        ).hidden_states
    for r, seq in enumerate(seqs):
        assert acts[r].shape == (len(seq), len(layers), 32)
        real = pos.valid[r].nonzero()[:, 0]
        for j, layer in enumerate(layers):
            assert torch.equal(acts[r][:, j], hs[layer + 1][r, real]), (r, layer)
    # and a single unpadded prompt equals HF's unpadded run
    single = eng.capture(TINY_PROMPTS[:1], layers, positions="all")[0]
    with torch.inference_mode():
        hs1 = eng.model(input_ids=torch.tensor([seqs[0]]), output_hidden_states=True).hidden_states
    for j, layer in enumerate(layers):
        assert torch.equal(single[:, j], hs1[layer + 1][0])


def test_tiny_injection_adds_vector_and_steers(tiny_engine):
    eng = tiny_engine
    torch.manual_seed(5)
    v = torch.randn(32)
    layer, strength = 1, 3.0
    inj = [Injection(v, (layer,), strength, Window.all()), None, None]
    before = count_hooks(eng.model)
    base = eng.capture(TINY_PROMPTS, [layer, layer + 1], positions="all")
    steered = eng.capture(TINY_PROMPTS, [layer, layer + 1], positions="all", injections=inj)
    assert count_hooks(eng.model) == before
    # the injected layer's output is exactly base + strength * v at every real position
    assert torch.allclose(steered[0][:, 0], base[0][:, 0] + strength * v, atol=1e-5)
    assert not torch.allclose(steered[0][:, 1], base[0][:, 1], atol=1e-3)  # it propagates
    for r in (1, 2):  # rows without injection are untouched
        assert torch.equal(steered[r], base[r])
    # a strong injection changes greedy generation; the uninjected row does not change
    gens0 = eng.generate(TINY_PROMPTS[:2], max_new_tokens=8)
    big = [Injection(v * 50, (layer,), 1.0, Window.from_marker("brown fox")), None]
    gens1 = eng.generate(TINY_PROMPTS[:2], big, max_new_tokens=8)
    assert gens1[0].token_ids != gens0[0].token_ids
    assert gens1[1].token_ids == gens0[1].token_ids
    assert count_hooks(eng.model) == before
