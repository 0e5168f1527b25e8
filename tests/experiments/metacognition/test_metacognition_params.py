"""The metacognition presets and battery parts validate into typed parameters; the
[params] table is refused where unused and checked key by key where used; a user's item
file is read, and its bad lines reported, when the spec is validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments.calibration.params import CalibrationParams
from introscope.experiments.cross_prediction.params import CrossParams
from introscope.experiments.hidden_state_linkage.params import LinkageParams
from introscope.experiments.lead_sensitivity.params import LeadParams
from introscope.experiments.neurofeedback.params import NeurofeedbackParams
from introscope.spec import load_spec, spec_params, validate_spec

PRESETS = {
    "calibration": CalibrationParams,
    "hidden_state_linkage": LinkageParams,
    "cross_prediction": CrossParams,
    "neurofeedback": NeurofeedbackParams,
    "lead_sensitivity": LeadParams,
}


def test_presets_and_battery_parts_give_typed_parameters() -> None:
    for name, kind in PRESETS.items():
        p = spec_params(load_spec(name))
        assert isinstance(p, kind), name
    cal = spec_params(load_spec("calibration"))
    assert isinstance(cal, CalibrationParams) and len({it.family for it in cal.items}) == 16
    parts = {s.name: s for s in battery_specs(only=list(PRESETS))}
    half = {s.name: s for s in battery_specs(only=list(PRESETS), scale=2.0)}
    for name, spec in parts.items():
        assert isinstance(spec_params(spec), PRESETS[name])
        assert half[name].grid.n_concepts == 2 * (spec.grid.n_concepts or 0)
    # The battery's parts stay small (benchmarks/RESULTS.md): 12 + 6 items probed, 8
    # items behind 24 cross-predictions, 82 neurofeedback trials (implicit control skips
    # the length axis), 4 items x 4 leads.
    sizes = {n: len(getattr(spec_params(s), "items", ())) for n, s in parts.items()}
    assert sizes == {
        "calibration": 12,
        "hidden_state_linkage": 6,
        "cross_prediction": 8,
        "neurofeedback": 0,
        "lead_sensitivity": 4,
    }
    nf = spec_params(parts["neurofeedback"])
    assert isinstance(nf, NeurofeedbackParams)
    report = len(nf.axes) * len(nf.shots) * nf.queries
    implicit = (len(nf.axes) - 1) * 2 * nf.control_sentences
    assert report + implicit == 82
    lead = spec_params(parts["lead_sensitivity"])
    assert isinstance(lead, LeadParams) and lead.leads == [
        "none",
        "suggested",
        "anchor",
        "challenge",
    ]


def test_params_table_is_refused_where_unused_and_checked_where_used() -> None:
    with pytest.raises(SpecError, match="params: the detection experiment does not use"):
        validate_spec({"name": "d", "experiment": "detection", "params": {"shots": [1]}}, "t")
    base = {"name": "c", "experiment": "cross_prediction"}
    with pytest.raises(SpecError, match=r"params\.shotz: unknown key \(the cross_prediction"):
        validate_spec({**base, "params": {"shotz": [1]}}, "t")
    with pytest.raises(SpecError, match=r"params\.shots"):
        validate_spec({**base, "params": {"shots": [2, 2]}}, "t")
    with pytest.raises(SpecError, match=r"params\.axes.*'pc0'"):
        validate_spec(
            {"name": "n", "experiment": "neurofeedback", "params": {"axes": ["pc0"]}}, "t"
        )
    with pytest.raises(SpecError, match=r"grid\.variants.*'bribe'"):
        validate_spec(
            {"name": "l", "experiment": "lead_sensitivity", "grid": {"variants": ["bribe"]}}, "t"
        )
    with pytest.raises(SpecError, match=r"grid\.layers.*does not use"):
        validate_spec({"name": "c", "experiment": "calibration", "grid": {"layers": [3]}}, "t")


def test_empty_params_stay_out_of_the_dump_and_set_ones_round_trip() -> None:
    plain = validate_spec({"name": "c", "experiment": "calibration"}, "t")
    assert "params" not in plain.model_dump(mode="json")
    det = validate_spec({"name": "d", "experiment": "detection"}, "t")
    assert "params" not in det.model_dump(mode="json")  # old runs keep their digests
    spec = validate_spec(
        {
            "name": "x",
            "experiment": "cross_prediction",
            "params": {"shots": [4, 0], "other_model": "m"},
        },
        "t",
    )
    dump = spec.model_dump(mode="json")
    assert dump["params"] == {"shots": [4, 0], "other_model": "m"}
    again = validate_spec(dump, "manifest")
    assert again == spec and again.digest() == spec.digest()
    p = spec_params(spec)
    assert isinstance(p, CrossParams) and p.shots == [0, 4] and p.other_model == "m"


def test_a_user_item_file_is_read_and_its_bad_lines_reported(tmp_path: Path) -> None:
    good = tmp_path / "mine.jsonl"
    rows = [
        {
            "id": f"u{i}",
            "family": "f" + str(i % 2),
            "question": f"Q{i}?",
            "answer": "yes",
            "options": ["yes", "no"],
        }
        for i in range(6)
    ]
    good.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    spec = validate_spec(
        {"name": "u", "experiment": "calibration", "params": {"items": [str(good)]}}, "mine.toml"
    )
    p = spec_params(spec)
    assert isinstance(p, CalibrationParams) and [it.id for it in p.items] == [
        f"u{i}" for i in range(6)
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n{oops\n" + json.dumps({"question": "Q"}) + "\n")
    with pytest.raises(SpecError) as exc:
        validate_spec(
            {"name": "u", "experiment": "calibration", "params": {"items": [str(bad)]}}, "mine.toml"
        )
    msg = str(exc.value)
    assert msg.startswith("mine.toml: ") and "has 2 bad lines" in msg
    assert "line 2: not valid JSON" in msg and "line 3: 'answer' must be a non-empty string" in msg
