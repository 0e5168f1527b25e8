"""``introscope train``: error paths (one sentence, non-zero exit, no model loaded) and, in
the slow run, a tiny real spec on the bundled model trained, evaluated and resumed (the
second call trains nothing and runs no trial)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from introscope import cli
from introscope.report.results import load_results, scorecard_lines
from introscope.store import load_run
from introscope.training import adapters

TINY_SPEC = """
name = "tiny_training"
experiment = "eval_training"
measure = "logits"
trials_per_cell = 1
batch_size = 16

[grid]
variants = ["no_prefix", "inoculation"]

[params]
seeds = 1
train_examples = 4
batch_size = 2
epochs = 1
sycophancy_items = 2
"""


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.app, ["train", *args])


def one_error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text and text.startswith("error:")
    return text


def test_errors_are_one_sentence(tmp_path: Path) -> None:
    assert "eval_training specs" in one_error_line(invoke("detection", "--out", str(tmp_path)))
    assert "--out is required" in one_error_line(invoke("eval_training"))
    assert "--seeds" in one_error_line(invoke("--out", str(tmp_path / "r"), "--seeds", "0"))
    assert "neither a spec file nor a preset" in one_error_line(
        invoke("no_such_preset", "--out", str(tmp_path))
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_SPEC.replace("seeds = 1", "seeds = 0"))
    assert "params.seeds" in one_error_line(invoke(str(bad), "--out", str(tmp_path / "r")))
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text('{"specs": [{"name": "x"}], "spec_digests": ["x"]}')
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    assert "another spec" in one_error_line(invoke(str(spec), "--out", str(other)))
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_tiny_training_run_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    out = tmp_path / "run"
    first = invoke(str(spec), "--out", str(out), "--no-report")
    assert first.exit_code == 0, first.output
    assert "2 trained, 0 reused" in " ".join(first.output.split())
    names = sorted(p.name for p in (out / "adapters").iterdir())
    assert names == ["inoculation-seed0", "no_prefix-seed0"]
    df = load_run(out)
    # base: 8 hack + 8 with the inoculation prefix + 8 capability + 2 sycophancy;
    # no_prefix: 8 + 8 + 2; inoculation: 8 + 8 + 8 + 2
    assert len(df) == 26 + 18 + 26
    assert set(df["condition"].map(lambda c: c["model"])) == {
        "base",
        "no_prefix-seed0",
        "inoculation-seed0",
    }
    # an adapted model reads other numbers than the base model on the same prompt
    hack = df[df["condition"].map(lambda c: c["probe"] == "hack")]
    by_model = hack.groupby(
        hack["condition"].map(lambda c: (c["model"], c["item_id"], c["format"]))
    )
    p = {k: g["logits"].iloc[0]["p_special_case"] for k, g in by_model}
    item = next(k for k in p if k[0] == "base")
    assert p[item] != p[("no_prefix-seed0", item[1], item[2])]
    results = load_results(out)
    results.raise_failures()
    lines = [ln for ln in scorecard_lines(results) if ln.step in (309, 310)]
    assert {ln.step for ln in lines} == {309, 310}
    made = results.tables["eval_training"]["eval_training_adapters"]
    assert len(made) == 2 and (made["train_seconds"] > 0).all() and (made["steps"] == 2).all()

    def no_training(*_args: Any) -> Any:
        raise AssertionError("a trained adapter was trained again")

    monkeypatch.setattr(adapters, "train_lora", no_training)
    second = invoke(str(spec), "--out", str(out), "--no-report")
    assert second.exit_code == 0, second.output
    text = " ".join(second.output.split())  # rich wraps lines at the terminal width
    assert "0 trained, 2 reused" in text and "already complete (70 trials)" in text
