"""The variants' prompts and windows on the bundled model (issue 10 defects 3 and 12): the
earlier-turn window ends before the question, so the question and answer positions see the
injection only through attention (checked on the residual stream with the engine); the
neutral frame's windows cover as many tokens as the detection frame's; every variant builds
its own trials and the paper's keep theirs."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.steering import OPEN_END, Injection, Window
from introscope.core.vectors import VectorSet
from introscope.errors import InjectionError
from introscope.experiments import prompts as P
from introscope.experiments.base import Context
from introscope.experiments.detection import EXPERIMENT, frames
from introscope.experiments.detection.params import VARIANTS
from introscope.spec import validate_spec

CONCEPTS = ["Dust", "Satellites", "Trumpets"]


def fake_vectors(lm: LoadedModel) -> VectorSet:
    g = torch.Generator().manual_seed(0)
    vecs = {c: 4.0 * torch.randn(lm.n_layers, lm.hidden_size, generator=g) for c in CONCEPTS}
    return VectorSet(vecs, "fake", "fake", lm.hidden_size, lm.n_layers, "fake")


def test_internal_windows_end_before_the_question(lm: LoadedModel) -> None:
    for prompt in (
        frames.detection_prompt(lm, "internal", True),
        frames.detection_prompt(lm, "internal", False),
        frames.identify_prompt(lm, "internal"),
    ):
        start, end = frames.window_tokens(lm, prompt, frames.detection_window("internal"))
        question, _ = frames.window_tokens(lm, prompt, Window.span_marker(P.TRIAL_MARKER))
        assert 0 < start < end < question  # the acknowledgement, and nothing after it
        frames.check_ends_before(lm, prompt, frames.detection_window("internal"), P.TRIAL_MARKER)
    neutral = frames.neutral_prompt(lm)
    start, end = frames.window_tokens(lm, neutral, frames.neutral_window("internal"))
    assert end < frames.window_tokens(lm, neutral, Window.span_marker(P.WORD_GAME_MARKER))[0]
    with pytest.raises(InjectionError, match="does not end before 'Trial 1:'"):
        frames.check_ends_before(
            lm,
            frames.identify_prompt(lm, "internal"),
            Window.from_marker(P.DETECTION_ACK),
            P.TRIAL_MARKER,
        )


def test_the_neutral_frame_injects_as_many_tokens(lm: LoadedModel) -> None:
    """Same window semantics over the same number of positions in both frames."""
    ident = frames.identify_prompt(lm, "default")
    neutral = frames.neutral_prompt(lm)
    for variant in ("default", "internal"):
        a = frames.window_tokens(lm, ident, frames.detection_window(variant))
        b = frames.window_tokens(lm, neutral, frames.neutral_window(variant))
        if variant == "default":
            assert a[1] == b[1] == OPEN_END
            assert len(lm.encode(ident)) - a[0] == len(lm.encode(neutral)) - b[0] == 43
        else:
            assert a[1] - a[0] == b[1] - b[0]


def test_internal_injection_reaches_the_answer_only_through_attention(
    lm: LoadedModel, engine: Engine
) -> None:
    """At the injected layer the question and answer positions are exactly the unhooked
    model's (the hook never fires there); one layer up they differ (attention to the
    perturbed keys and values). The paper's window adds the vector there directly."""
    layer = lm.layer(0.5)
    vec = fake_vectors(lm).get("Dust", layer)
    prompt = frames.identify_prompt(lm, "internal")
    question = Window.from_marker(P.TRIAL_MARKER)
    layers = [layer, layer + 1]
    plain = engine.capture([prompt], layers, positions=question)[0]
    internal = Injection(vec, (layer,), 8.0, frames.detection_window("internal"))
    got = engine.capture([prompt], layers, positions=question, injections=[internal])[0]
    assert got.shape == plain.shape and got.shape[0] > 20
    assert torch.equal(got[:, 0], plain[:, 0])
    assert not torch.allclose(got[-1, 1], plain[-1, 1], atol=1e-3)
    direct = Injection(vec, (layer,), 8.0, frames.detection_window("default"))
    pushed = engine.capture([prompt], layers, positions=question, injections=[direct])[0]
    assert torch.allclose(pushed[:, 0] - plain[:, 0], (8.0 * vec).expand_as(plain[:, 0]), atol=1e-4)


def spec(variants: list[str], measure: str = "logits") -> Any:
    return validate_spec(
        {
            "name": "frames",
            "experiment": "detection",
            "measure": measure,
            "control_trials": 2,
            "grid": {
                "concepts": CONCEPTS,
                "layers": [0.5],
                "strengths": [4.0],
                "controls": ["concept", "random"],
                "variants": variants,
            },
        },
        "test",
    )


@pytest.mark.parametrize("measure", ["logits", "generation"])
def test_every_variant_builds_its_own_trials(lm: LoadedModel, engine: Engine, measure: str) -> None:
    vectors = fake_vectors(lm)

    def build(variants: list[str]) -> list[Any]:
        s = spec(variants, measure)
        ctx: Context[Any] = Context(s, EXPERIMENT.params(s), lm, engine, vectors)
        return EXPERIMENT.solver().build_trials(ctx)

    paper = build(["default"])
    every = build(list(VARIANTS))
    per_variant = 2 + len(CONCEPTS) * 2
    assert len(paper) == per_variant and len(every) == len(VARIANTS) * per_variant
    # The paper's trials are the same whether other variants run or not.
    assert [(t.trial_id, t.prompt, t.condition) for t in every[:per_variant]] == [
        (t.trial_id, t.prompt, t.condition) for t in paper
    ]
    assert all("variant" not in t.condition for t in paper)
    assert len({t.trial_id for t in every}) == len(every)
    yes_no = measure == "logits"
    for k, variant in enumerate(VARIANTS):
        block = every[k * per_variant : (k + 1) * per_variant]
        assert {t.prompt for t in block} == {frames.detection_prompt(lm, variant, yes_no)}
        assert sum(t.control == "none" and t.injection is None for t in block) == 2
        for t in block:
            assert t.condition.get("variant", "default") == variant
            assert t.data["variant"] == variant
            if t.injection is not None:
                assert t.injection.window == frames.detection_window(variant)
    assert P.PERSONA_PREAMBLE in every[-1].prompt and "Sam" in every[-1].prompt
    assert "inject" not in P.UNINFORMED_PREAMBLE + P.UNINFORMED_ACK
    assert "one trial in five" in P.SKEPTICAL_PREAMBLE
