"""The detection presets validate into typed parameters; settings detection does not read
are refused instead of dropped."""

from __future__ import annotations

import pytest

from introscope.errors import SpecError
from introscope.experiments.detection.params import DetectionParams
from introscope.spec import load_spec, spec_params, validate_spec
from introscope.words import word_list


def test_presets_give_typed_parameters() -> None:
    for name in ("detection", "detection_logits"):
        p = spec_params(load_spec(name))
        assert isinstance(p, DetectionParams)
        assert p.concepts and p.layers and p.strengths
    p = spec_params(load_spec("detection"))
    assert p.concepts == word_list("main")[: len(p.concepts)]


def test_unused_and_unknown_settings_are_refused() -> None:
    base = {"name": "x", "experiment": "detection"}
    with pytest.raises(SpecError, match=r"grid\.variants: 'think' is not a value the detection"):
        validate_spec({**base, "grid": {"variants": ["think"]}}, "t.toml")
    with pytest.raises(SpecError, match=r"grid\.variants: a variant is listed twice"):
        validate_spec({**base, "grid": {"variants": ["persona", "persona"]}}, "t.toml")
    with pytest.raises(SpecError, match=r"grid\.variants: give at least one variant"):
        validate_spec({**base, "grid": {"variants": []}}, "t.toml")
    with pytest.raises(SpecError, match=r"unknown experiment 'detektion'"):
        validate_spec({**base, "experiment": "detektion"}, "t.toml")
    with pytest.raises(SpecError, match=r"t\.toml"):
        validate_spec({**base, "grid": {"controls": ["sideways"]}}, "t.toml")
    ok = validate_spec(
        {**base, "grid": {"concepts": ["Dust"], "controls": ["concept", "none"]}}, "t"
    )
    assert spec_params(ok).controls == ["concept", "none"]  # type: ignore[attr-defined]


def test_variants_default_to_the_papers_wording_and_keep_their_order() -> None:
    base = {"name": "x", "experiment": "detection"}
    assert spec_params(validate_spec(base, "t")).variants == ["default"]  # type: ignore[attr-defined]
    order = ["persona", "default", "internal", "uninformed", "skeptical"]
    p = spec_params(validate_spec({**base, "grid": {"variants": order}}, "t"))
    assert p.variants == order  # type: ignore[attr-defined]
    assert spec_params(load_spec("detection_variants")).variants == [  # type: ignore[attr-defined]
        "default",
        "internal",
        "skeptical",
        "uninformed",
        "persona",
    ]
