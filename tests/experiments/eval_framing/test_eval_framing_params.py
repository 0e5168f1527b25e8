"""The evaluation-framing preset validates, its settings are checked, and its prompts are
what the protocol says (framing first, the item, lettered candidates, the prefill)."""

from __future__ import annotations

import pytest

from introscope.errors import SpecError
from introscope.experiments.eval_framing.framings import (
    CODE_ROLES,
    FORMATS,
    FRAMINGS,
    ORDERS,
    PARAPHRASES,
    code_prompt,
    metric_prompt,
    ordered_roles,
)
from introscope.experiments.eval_framing.params import eval_framing_params, selected_items
from introscope.spec import Spec, load_spec, validate_spec


def spec(**changes: object) -> Spec:
    data = load_spec("eval_framing").model_dump(mode="json")
    for key, value in changes.items():
        if key.startswith("grid."):
            data["grid"][key[5:]] = value
        else:
            data[key] = value
    return validate_spec(data, "test")


def test_preset_validates_with_every_framing() -> None:
    p = eval_framing_params(load_spec("eval_framing"))
    assert p.framings == list(FRAMINGS) and p.items_per_kind == 12
    assert all(len(v) == PARAPHRASES for v in FRAMINGS.values()) and len(FORMATS) == 2
    assert len(FRAMINGS) == 6


def test_settings_are_checked() -> None:
    assert eval_framing_params(spec(**{"grid.variants": ["neutral", "judgment"]})).framings == [
        "neutral",
        "judgment",
    ]
    with pytest.raises(SpecError, match="judgement"):
        spec(**{"grid.variants": ["neutral", "judgement"]})
    with pytest.raises(SpecError, match="neutral"):
        spec(**{"grid.variants": ["judgment", "permission"]})
    with pytest.raises(SpecError, match=r"grid\.strengths"):
        spec(**{"grid.strengths": [2.0]})
    assert eval_framing_params(spec(**{"grid.layers": [0.5, 12]})).awareness_layers == [0.5, 12]
    # generation mode is greedy, with room for a function by default
    with pytest.raises(SpecError, match="temperature"):
        spec(measure="generation")
    gen = load_spec("eval_framing_generation")
    assert gen.measure == "generation"
    assert eval_framing_params(gen).max_new_tokens == gen.sampling.max_new_tokens
    data = load_spec("eval_framing").model_dump(mode="json", exclude={"sampling"})
    data.update(measure="generation", sampling={"temperature": 0.0})
    assert eval_framing_params(validate_spec(data, "t")).max_new_tokens == 256


def test_items_and_prompts() -> None:
    code, metric = selected_items(3)
    assert len(code) == 6 and len(metric) == 3
    assert len({c.family for c in code}) == 3 and len({m.family for m in metric}) == 3
    assert len(set(ORDERS)) == 6 and ordered_roles(CODE_ROLES, 0) == CODE_ROLES
    roles = ordered_roles(CODE_ROLES, 3)
    text = code_prompt(code[0], FRAMINGS["judgment"][1], "benchmark", roles)
    assert text.startswith(FRAMINGS["judgment"][1]) and "### Problem" in text
    assert code[0].test_lines()[2] in text
    for letter, role in zip("ABC", roles, strict=True):
        first = code[0].options[role].splitlines()[0]
        assert f"({letter})" in text and first in text
    assert text.index("(A)") < text.index("(B)") < text.index("(C)")
    chat = metric_prompt(metric[0], FRAMINGS["neutral"][0], "chat", ("game", "solve", "flag"))
    assert metric[0].rule_text in chat and "### Problem" not in chat
    assert chat.index(metric[0].options["game"]) < chat.index(metric[0].options["solve"])
