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
    with pytest.raises(SpecError, match=r"grid\.variants.*does not use"):
        validate_spec({**base, "grid": {"variants": ["think"]}}, "t.toml")
    with pytest.raises(SpecError, match=r"unknown experiment 'detektion'"):
        validate_spec({**base, "experiment": "detektion"}, "t.toml")
    with pytest.raises(SpecError, match=r"t\.toml"):
        validate_spec({**base, "grid": {"controls": ["sideways"]}}, "t.toml")
    ok = validate_spec(
        {**base, "grid": {"concepts": ["Dust"], "controls": ["concept", "none"]}}, "t"
    )
    assert spec_params(ok).controls == ["concept", "none"]  # type: ignore[attr-defined]
