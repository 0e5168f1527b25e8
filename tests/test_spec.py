"""Spec validation: every bad spec is one SpecError naming the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.spec import Spec, load_spec, override, preset_names, validate_spec

HEAD = 'name = "t"\nexperiment = "detection"\n'


def _write(tmp_path: Path, body: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def _error(path: Path | str) -> str:
    with pytest.raises(SpecError) as exc:
        load_spec(str(path))
    return str(exc.value)


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        (HEAD + "foo = 1\n", "foo", "unknown key"),
        (HEAD + "[grid]\nfoo = 1\n", "grid.foo", "unknown key"),
        (HEAD + "[sampling]\ntop_k = 5\n", "sampling.top_k", "unknown key"),
        (HEAD + 'trials_per_cell = "x"\n', "trials_per_cell", "integer"),
        (HEAD + "batch_size = 0\n", "batch_size", "whole number from 1 to 1024"),
        (HEAD + "[sampling]\ntemperature = -1\n", "sampling.temperature", "greater than"),
        (HEAD + "[sampling]\nmax_new_tokens = 0\n", "sampling.max_new_tokens", "greater"),
        (HEAD + "[grid]\nstrengths = [1.0, nan]\n", "grid.strengths", "finite"),
        (HEAD + "[grid]\nstrengths = [inf]\n", "grid.strengths", "finite"),
        (HEAD + "[grid]\nstrengths = [-inf]\n", "grid.strengths", "finite"),
        (HEAD + "[grid]\nstrengths = []\n", "grid.strengths", "at least one strength"),
        (HEAD + "[grid]\nlayers = []\n", "grid.layers", "at least one layer"),
        (HEAD + '[grid]\ncontrols = ["concept", "bogus"]\n', "grid.controls[1]", "'random'"),
        (
            'name = "t"\nexperiment = "telepathy"\n',
            "experiment",
            "known: steering_check, detection, yes_bias",
        ),
        ('experiment = "detection"\n', "name", "required"),
        (HEAD + 'measure = "vibes"\n', "measure", "'logits'"),
        (HEAD + 'graders = ["rules", "oracle"]\n', "graders[1]", "'judge'"),
    ],
)
def test_bad_spec_names_file_and_key(tmp_path: Path, body: str, key: str, words: str) -> None:
    path = _write(tmp_path, body)
    msg = _error(path)
    assert msg.startswith(f"{path}: {key}: "), msg
    assert words in msg, msg
    assert "\n" not in msg


def test_several_problems_are_counted(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, HEAD + "batch_size = 0\nfoo = 1\n"))
    assert "(and 1 more problems)" in msg


def test_judge_grader_needs_judge_table(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, HEAD + 'graders = ["rules", "judge"]\n'))
    assert msg.startswith(f"{tmp_path / 'spec.toml'}: graders: ")
    assert "[judge]" in msg
    ok = HEAD + 'graders = ["rules", "judge"]\n[judge]\nbase_url = "http://x/v1"\nmodel = "m"\n'
    spec = load_spec(str(_write(tmp_path, ok, "ok.toml")))
    assert spec.judge is not None and spec.judge.model == "m"


def test_judge_table_is_validated(tmp_path: Path) -> None:
    body = HEAD + '[judge]\nbase_url = "http://x/v1"\nmodel = "m"\ntimeout_s = 0\n'
    msg = _error(_write(tmp_path, body))
    assert ": judge.timeout_s: " in msg
    msg = _error(_write(tmp_path, HEAD + '[judge]\nmodel = "m"\n', "b.toml"))
    assert ": judge.base_url: " in msg and "required" in msg


def test_invalid_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD + "batch_size = \n")
    msg = _error(path)
    assert msg.startswith(f"{path}: not valid TOML")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    msg = _error(path)
    assert str(path) in msg and "does not exist" in msg


def test_unknown_preset_lists_presets() -> None:
    msg = _error("no_such_preset")
    assert "no_such_preset" in msg
    for name in preset_names():
        assert name in msg


def test_presets_are_listed_and_all_load() -> None:
    names = preset_names()
    assert {"detection", "detection_logits", "yes_bias", "thoughts_vs_text"} <= set(names)
    for name in names:
        spec = load_spec(name)
        assert isinstance(spec, Spec)
        assert spec.name


def test_battery_file_is_not_a_single_preset() -> None:
    # battery.toml holds one table per part; `introscope run battery` must say what to do
    # instead of "name: Field required (and 7 more problems)".
    assert "battery" not in preset_names()
    msg = _error("battery")
    assert "introscope battery" in msg
    assert "Field required" not in msg


def test_override_applies_cli_values() -> None:
    spec = load_spec("detection")
    new = override(
        spec,
        layers="0.5, 0.67,10,-3",
        strengths="1,2.5",
        trials=3,
        concepts="Ocean,Dust",
        controls="concept,none",
        batch_size=2,
        max_new_tokens=5,
        temperature=0.0,
        seed=7,
        control_trials=0,
    )
    assert new.grid.layers == [0.5, 0.67, 10, -3]
    assert new.grid.strengths == [1.0, 2.5]
    assert new.trials_per_cell == 3
    assert new.grid.concepts == ["Ocean", "Dust"] and new.grid.categories == []
    assert new.grid.controls == ["concept", "none"]
    assert (new.batch_size, new.sampling.max_new_tokens, new.sampling.temperature) == (2, 5, 0.0)
    assert (new.seed, new.control_trials) == (7, 0)
    assert new.digest() != spec.digest()
    # untouched fields are kept; no override -> same spec
    assert new.name == spec.name and new.measure == spec.measure
    assert override(spec).digest() == spec.digest()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"strengths": "a,b"}, "--strengths 'a,b'"),
        ({"strengths": "nan"}, "grid.strengths: strengths must be finite"),
        ({"strengths": ","}, "grid.strengths: give at least one strength"),
        ({"layers": ","}, "grid.layers: give at least one layer"),
        ({"trials": 0}, "trials_per_cell:"),
        ({"batch_size": 0}, "batch_size:"),
        ({"temperature": -1.0}, "sampling.temperature:"),
        ({"controls": "concept,bogus"}, "grid.controls[1]:"),
        ({"measure": "vibes"}, "measure:"),
    ],
)
def test_bad_overrides(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(SpecError) as exc:
        override(load_spec("detection"), **kwargs)  # type: ignore[arg-type]
    msg = str(exc.value)
    assert words in msg, msg
    if "strengths 'a,b'" not in words:
        assert msg.startswith("command-line overrides: "), msg


def test_validate_spec_source_in_message() -> None:
    with pytest.raises(SpecError, match=r"^my source: grid\.foo: unknown key\.$"):
        validate_spec({"name": "x", "experiment": "detection", "grid": {"foo": 1}}, "my source")


def test_digest_tracks_content() -> None:
    a = validate_spec({"name": "x", "experiment": "detection"}, "s")
    b = validate_spec({"name": "x", "experiment": "detection", "seed": 0}, "s")
    c = validate_spec({"name": "x", "experiment": "detection", "seed": 1}, "s")
    assert a.digest() == b.digest() != c.digest()


def test_battery_specs_validate_and_scale() -> None:
    one = {s.name: s for s in battery_specs()}
    assert set(one) == {
        "steering_check",
        "detection",
        "detection_logits",
        "detection_variants",
        "yes_bias",
        "thoughts_vs_text",
        "prefill",
        "intentional_control",
        "mismatch",
        "localization",
        "natural_states",
        "category_thresholds",
        "yes_bias_generation",
        "calibration",
        "hidden_state_linkage",
        "cross_prediction",
        "neurofeedback",
        "lead_sensitivity",
        "cot_probe",
        "cot_interventions",
        "cot_hints",
        "eval_framing",
        "eval_framing_steering",
        "eval_sandbagging",
    }
    assert all(isinstance(s, Spec) and s.model == "bundled" for s in one.values())
    double = {s.name: s for s in battery_specs(scale=2.0, seed=5, model="m")}
    half = {s.name: s for s in battery_specs(scale=0.5)}
    for name, spec in one.items():
        assert spec.grid.n_concepts is not None
        assert double[name].grid.n_concepts == 2 * spec.grid.n_concepts
        assert half[name].grid.n_concepts == max(2, round(spec.grid.n_concepts * 0.5))
        assert double[name].seed == 5 and double[name].model == "m"
    assert double["detection"].control_trials == 2 * one["detection"].control_trials
    assert half["detection"].control_trials < one["detection"].control_trials
    tiny = {s.name: s for s in battery_specs(scale=0.01)}
    assert all(s.grid.n_concepts == 2 for s in tiny.values())
    assert tiny["detection"].control_trials >= 1
    only = battery_specs(only=["prefill", "yes_bias"])
    assert sorted(s.name for s in only) == ["prefill", "yes_bias"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"scale": 0}, "--scale"), ({"scale": -1.0}, "--scale"), ({"only": ["nope"]}, "'nope'")],
)
def test_battery_specs_errors(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(SpecError) as exc:
        battery_specs(**kwargs)  # type: ignore[arg-type]
    assert words in str(exc.value)


# --------------------------------------------------------------------------- primary


def with_primary(preset: str, primary: dict[str, object]) -> dict[str, object]:
    data = load_spec(preset).model_dump(mode="json")
    return {**data, "primary": primary}


def test_a_spec_without_primary_dumps_and_digests_as_before() -> None:
    # The field is new: specs that do not set it keep their dump, digest and trial ids
    # (old run directories resume; tests/experiments/test_trial_identity.py).
    spec = load_spec("detection")
    assert "primary" not in spec.model_dump(mode="json")
    declared = validate_spec(with_primary("detection", {"layer": 0.67, "strength": 4}), "x")
    assert declared.model_dump(mode="json")["primary"] == {"layer": 0.67, "strength": 4.0}
    assert declared.digest() != spec.digest()
    assert validate_spec(declared.model_dump(mode="json"), "again") == declared
    assert override(declared, seed=3).primary == declared.primary


@pytest.mark.parametrize(
    ("preset", "primary", "words"),
    [
        (
            "detection",
            {"layer": 0.9, "strength": 4},
            "primary.layer: 0.9 is not one of grid.layers",
        ),
        ("detection", {"layer": 0.67, "strength": 3}, "primary.strength: 3 is not one of"),
        ("detection", {"layer": 0.67}, "primary.strength: declare the strength too"),
        ("mismatch", {"layer": 0.5, "strength": 5}, "primary.strength: 5 is not one of"),
        ("natural_states", {"layer": 0.5, "strength": 4}, "has no injection strengths"),
        ("yes_bias", {"layer": 0.5, "strength": 4}, "primary: the yes_bias experiment does not"),
        ("category_thresholds", {"layer": 0.5}, "primary: the category_thresholds experiment"),
    ],
)
def test_a_declared_configuration_must_be_one_the_run_contains(
    preset: str, primary: dict[str, object], words: str
) -> None:
    with pytest.raises(SpecError, match=words.replace("(", r"\(")):
        validate_spec(with_primary(preset, primary), "spec.toml")


def test_declared_configurations_that_validate() -> None:
    for preset, primary in (
        ("detection", {"layer": 0.5, "strength": 8}),
        ("natural_states", {"layer": 0.5}),
        ("intentional_control", {"layer": 12}),  # every layer is read out
        ("prefill", {"layer": 0.67, "strength": 8}),
    ):
        assert validate_spec(with_primary(preset, primary), preset).primary is not None
