"""Specs are strict: no numbers in strings, no booleans for numbers or layers, no empty lists,
no unknown categories, no grid of more than a million trials, no judge key in a variable that
is not named like one, and a spec file must be UTF-8; each is one sentence, before anything
is written. Specs that set nothing new keep the digest the old code gave them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from introscope.cli import app
from introscope.errors import JudgeError, SpecError
from introscope.grading.endpoint import check_endpoint
from introscope.grading.judge import Judge, JudgeConfig
from introscope.spec import MAX_TRIALS, load_spec, override, validate_spec

HEAD = 'name = "t"\nexperiment = "detection"\n'

#: Spec.digest() of this spec under the code before strict specs and strength units
#: (commit 4a59cbe): run directories made then must keep resuming.
DET = {
    "name": "det",
    "experiment": "detection",
    "measure": "generation",
    "control_trials": 2,
    "batch_size": 2,
    "seed": 3,
    "grid": {
        "concepts": ["Ocean", "Dust", "Bread"],
        "layers": [0.5],
        "strengths": [4.0],
        "controls": ["concept", "random"],
    },
    "sampling": {"max_new_tokens": 6, "temperature": 1.0},
}
DET_DIGEST = "752b864a4c733a5a"


def error_of(tmp_path: Path, body: str | bytes) -> str:
    path = tmp_path / "spec.toml"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    with pytest.raises(SpecError) as exc:
        load_spec(str(path))
    msg = str(exc.value)
    assert msg.startswith(str(path)) and "\n" not in msg, msg
    return msg


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (HEAD + 'trials_per_cell = "3"\n', "trials_per_cell: Input should be a valid integer"),
        (HEAD + "seed = true\n", "seed: Input should be a valid integer"),
        (HEAD + 'batch_size = "8"\n', "batch_size"),
        (HEAD + "[grid]\nlayers = [true]\n", "grid.layers[0]"),
        (HEAD + '[grid]\nn_concepts = "3"\n', "grid.n_concepts"),
        (HEAD + '[grid]\nstrengths = ["4"]\n', "grid.strengths[0]"),
        (HEAD + "[sampling]\ntemperature = true\n", "sampling.temperature"),
        (HEAD + "[grid]\nconcepts = []\n", "grid.concepts: the list is empty"),
        (HEAD + "[grid]\ncategories = []\n", "grid.categories: the list is empty"),
        (HEAD + "[grid]\ncontrols = []\n", "grid.controls: the list is empty"),
        (HEAD + '[grid]\ncategories = ["fruit"]\n', "grid.categories: unknown category 'fruit'"),
        (HEAD + '[grid]\nstrength_unit = "volts"\n', "grid.strength_unit"),
    ],
)
def test_loose_values_are_refused(tmp_path: Path, body: str, words: str) -> None:
    assert words in error_of(tmp_path, body)


def test_integers_still_count_as_numbers_and_old_digests_hold() -> None:
    spec = validate_spec({**DET, "grid": {**DET["grid"], "strengths": [4]}}, "s")
    assert spec.grid.strengths == [4.0]
    assert spec.digest() == validate_spec(DET, "s").digest() == DET_DIGEST
    assert "strength_unit" not in spec.model_dump(mode="json")["grid"]
    rel = validate_spec({**DET, "grid": {**DET["grid"], "strength_unit": "residual_norm"}}, "s")
    assert rel.model_dump(mode="json")["grid"]["strength_unit"] == "residual_norm"
    assert rel.digest() != DET_DIGEST


def test_a_grid_of_more_than_a_million_trials_is_refused() -> None:
    grid = {
        "categories": ["all"],
        "layers": list(range(30)),
        "strengths": [float(s) for s in range(60)],
        "controls": ["concept", "random", "negated"],
    }
    with pytest.raises(SpecError, match=f"more than the {MAX_TRIALS:,}"):
        validate_spec({"name": "big", "experiment": "detection", "grid": grid}, "big spec")


def test_non_utf8_spec_is_one_sentence(tmp_path: Path) -> None:
    msg = error_of(tmp_path, b'name = "caf\xe9"\nexperiment = "detection"\n')
    assert "not UTF-8" in msg


def test_empty_concepts_override_is_refused() -> None:
    spec = validate_spec(DET, "s")
    with pytest.raises(SpecError, match="names no concept"):
        override(spec, concepts=" , ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["battery", "--scale", "nan"], "--scale must be a positive finite number"),
        (["battery", "--scale", "inf"], "--scale must be a positive finite number"),
        (["run", "detection", "--strength-unit", "volts"], "strength_unit"),
    ],
)
def test_cli_bad_numbers_are_one_sentence(tmp_path: Path, args: list[str], words: str) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and words in lines[0], res.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- the judge's endpoint


@pytest.mark.parametrize(
    "name", ["AWS_SECRET_ACCESS_KEY", "HOME", "INTROSCOPE_JUDGE_KEY", "X_API_KEY; rm"]
)
def test_judge_key_variable_must_be_named_like_a_key(name: str) -> None:
    judge = {"base_url": "https://judge.example/v1", "model": "m", "api_key_env": name}
    with pytest.raises(SpecError, match="is not an API-key variable name"):
        validate_spec({**DET, "graders": ["rules", "judge"], "judge": judge}, "s")
    with pytest.raises(JudgeError, match="_API_KEY or _TOKEN"):
        JudgeConfig(base_url="https://judge.example/v1", model="m", api_key_env=name)


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "INTROSCOPE_JUDGE_API_KEY", "HF_TOKEN"])
def test_key_like_names_are_accepted(name: str) -> None:
    JudgeConfig(base_url="https://judge.example/v1", model="m", api_key_env=name)


@pytest.mark.parametrize(
    ("url", "ok_plain", "ok_insecure"),
    [
        ("https://api.example.com/v1", True, True),
        ("http://127.0.0.1:8001/v1", True, True),
        ("http://localhost:8001/v1", True, True),
        ("http://[::1]:8001/v1", True, True),
        ("http://10.0.0.5:8001/v1", False, True),
        ("http://judge.example.com/v1", False, True),
        ("ftp://judge.example.com/v1", False, False),
        ("judge.example.com", False, False),
    ],
)
def test_plain_http_only_to_this_machine(url: str, ok_plain: bool, ok_insecure: bool) -> None:
    for insecure, ok in ((False, ok_plain), (True, ok_insecure)):
        if ok:
            check_endpoint(url, insecure=insecure)
        else:
            with pytest.raises(JudgeError):
                check_endpoint(url, insecure=insecure)


def test_cache_key_covers_the_endpoint() -> None:
    a = Judge(JudgeConfig(base_url="https://a.example/v1", model="m", api_key_env=None))
    b = Judge(JudgeConfig(base_url="https://b.example/v1", model="m", api_key_env=None))
    with a, b:
        assert a.cache_key("affirmative", "r") != b.cache_key("affirmative", "r")
        assert a.cache_key("affirmative", "r") == a.cache_key("affirmative", "r")
