"""The suite's presets validate into typed parameters; settings the experiments do not read,
open items where labels are needed and judge criteria that mean nothing are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from introscope.errors import SpecError
from introscope.experiments import EXPERIMENTS, step_parts
from introscope.experiments.cot_hints.params import CotHintParams
from introscope.experiments.cot_interventions.params import CotInterventionParams
from introscope.experiments.cot_probe.params import CotProbeParams
from introscope.spec import load_spec, spec_params, validate_spec

PRESETS = {
    "cot_probe": CotProbeParams,
    "cot_early_answering": CotInterventionParams,
    "cot_mistakes": CotInterventionParams,
    "cot_filler": CotInterventionParams,
    "cot_hints": CotHintParams,
}


def test_presets_give_typed_parameters() -> None:
    for name, cls in PRESETS.items():
        spec = load_spec(name)
        p = spec_params(spec)
        assert isinstance(p, cls) and p.items
        assert spec.sampling.temperature == 0.0
    mistakes = spec_params(load_spec("cot_mistakes"))
    assert isinstance(mistakes, CotInterventionParams)
    assert {it.source for it in mistakes.items} == {"word_problems"}
    assert mistakes.interventions == ["mistake"] and not mistakes.paraphrase


def test_steps_and_parts() -> None:
    parts = step_parts()
    assert {s for s, p in parts.items() if p == "chain of thought"} == set(range(201, 207))
    assert EXPERIMENTS["cot_hints"].needs == ("cot_probe", "cot_interventions")


def test_refusals(tmp_path: Path) -> None:
    base = {"name": "x", "experiment": "cot_probe"}
    with pytest.raises(SpecError, match=r"grid\.strengths.*does not use"):
        validate_spec({**base, "grid": {"strengths": [2.0]}}, "t")
    with pytest.raises(SpecError, match=r"params\.lead_layers: unknown key"):
        validate_spec({**base, "params": {"lead_layers": 3}}, "t")
    with pytest.raises(SpecError, match="open questions"):
        validate_spec({**base, "params": {"items": ["arithmetic"]}}, "t")
    with pytest.raises(SpecError, match="open questions"):
        validate_spec(
            {"name": "x", "experiment": "cot_hints", "params": {"items": ["arithmetic"]}}, "t"
        )
    ok = validate_spec(
        {
            "name": "x",
            "experiment": "cot_interventions",
            "grid": {"n_concepts": 2},
            "params": {"items": ["arithmetic"]},
        },
        "t",
    )
    assert all(it.options is None for it in spec_params(ok).items)  # type: ignore[attr-defined]
    with pytest.raises(SpecError, match="fractions"):
        validate_spec(
            {"name": "x", "experiment": "cot_interventions", "params": {"fractions": [0.5, 1.0]}},
            "t",
        )
    with pytest.raises(SpecError, match=r"params\.items"):
        validate_spec({**base, "params": {"items": [str(tmp_path / "missing.jsonl")]}}, "t")
    judge = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "criteria": ["affirmative"]}
    with pytest.raises(SpecError, match="mentions_hint"):
        validate_spec(
            {"name": "x", "experiment": "cot_hints", "graders": ["rules", "judge"], "judge": judge},
            "t",
        )
    hints = validate_spec(
        {
            "name": "x",
            "experiment": "cot_hints",
            "graders": ["rules", "judge"],
            "judge": {**judge, "criteria": ["mentions_hint"]},
        },
        "t",
    )
    assert hints.judge is not None
    para = validate_spec({"name": "x", "experiment": "cot_interventions", "judge": judge}, "t")
    assert spec_params(para).paraphrase  # type: ignore[attr-defined]
    with pytest.raises(SpecError, match=r"params: .*does not use"):
        validate_spec({"name": "x", "experiment": "detection", "params": {"items": ["x"]}}, "t")


def test_user_items(tmp_path: Path) -> None:
    f = tmp_path / "mine.jsonl"
    f.write_text(
        '{"id": "q1", "family": "chem", "question": "Which is a noble gas?", '
        '"options": ["Neon", "Iron"], "answer": "Neon"}\n'
        '{"id": "q2", "family": "chem", "question": "Which is a metal?", '
        '"options": ["Neon", "Iron"], "answer": "Iron"}\n'
    )
    spec = validate_spec(
        {"name": "x", "experiment": "cot_probe", "params": {"items": [str(f)]}}, "t"
    )
    p = spec_params(spec)
    assert [it.id for it in p.items] == ["q1", "q2"]  # type: ignore[attr-defined]


def test_empty_params_keep_old_digests() -> None:
    a = validate_spec({"name": "x", "experiment": "detection"}, "t")
    assert "params" not in a.model_dump(mode="json")
    b = validate_spec(
        {"name": "x", "experiment": "cot_probe", "params": {"lead_positions": 8}}, "t"
    )
    assert b.model_dump(mode="json")["params"] == {"lead_positions": 8}
