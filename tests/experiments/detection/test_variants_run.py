"""Tiny real runs of the variants on the bundled model through the runner: the
detection_variants preset (logits: P(yes), both identification frames, log-probabilities)
and a generation run under the earlier-turn window and the third-party question."""

from __future__ import annotations

from pathlib import Path

import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import concept_vectors, save_vectors
from introscope.experiments.detection.leakage import INTERNAL_NAME, LEAKAGE_NAME
from introscope.experiments.prompts import DETECTION_ACK
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_spec
from introscope.spec import load_spec, override, validate_spec
from introscope.store import load_run
from introscope.words import word_list

WORDS = ["Dust", "Satellites"]


def vectors_into(engine: Engine, run_dir: Path) -> None:
    # A short baseline keeps vector building cheap on 2 shared cores.
    vs = concept_vectors(engine, WORDS, baseline=word_list("baseline")[:8])
    save_vectors(vs, run_dir / "vectors.safetensors")


@pytest.mark.slow
def test_detection_variants_preset_real_run(
    lm: LoadedModel, engine: Engine, tmp_path: Path
) -> None:
    spec = override(load_spec("detection_variants"), concepts=",".join(WORDS), strengths="8")
    vectors_into(engine, tmp_path)
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_trials == 5 * (1 + 2 * 2)  # 5 variants x (1 control + 2 concepts x 2)
    df = load_run(tmp_path)
    assert set(df["variant"].dropna()) == {"internal", "skeptical", "uninformed", "persona"}
    for control, lg in zip(df["control"], df["logits"], strict=True):
        assert 0 < lg["p_yes"] < 1 and lg["n_candidates"] == 2
        if control == "concept":
            assert lg["neutral_rank"] in (1, 2) and lg["neutral_top_candidate"] in WORDS
            assert lg["concept_logprob"] < 0 and lg["neutral_logprob"] < 0
        elif control == "none":
            assert set(lg["candidate_logprobs"]) == set(WORDS)
            assert set(lg["neutral_candidate_logprobs"]) == set(WORDS)
        else:
            assert "neutral_rank" not in lg
    res = load_results(tmp_path)
    assert not res.failures, res.failures
    t = res.tables["detection"]
    assert set(t["variants"]["variant"]) == {
        "default",
        "internal",
        "skeptical",
        "uninformed",
        "persona",
    }
    assert set(t["leakage"]["variant"]) == set(t["variants"]["variant"])
    lines = {ln.name: ln for ln in scorecard_lines(res)}
    for name in (LEAKAGE_NAME, INTERNAL_NAME, "net detection across wordings"):
        assert lines[name].available and lines[name].unit == "concepts", lines[name]
        assert lines[name].n == len(WORDS)


@pytest.mark.slow
def test_generation_variants_real_run(lm: LoadedModel, engine: Engine, tmp_path: Path) -> None:
    spec = validate_spec(
        {
            "name": "gen_variants",
            "experiment": "detection",
            "measure": "generation",
            "control_trials": 2,
            "grid": {
                "concepts": WORDS,
                "layers": [0.5],
                "strengths": [8.0],
                "controls": ["concept"],
                "variants": ["default", "internal", "persona"],
            },
            "sampling": {"max_new_tokens": 6, "temperature": 0.0},
        },
        "test",
    )
    vectors_into(engine, tmp_path)
    result = run_spec(spec, tmp_path, lm=lm)
    assert result.n_trials == 3 * (2 + 2)
    df = load_run(tmp_path)
    assert df["response"].map(lambda r: isinstance(r, str)).all()
    internal = df[df["variant"] == "internal"]
    windows = {inj["window"] for inj in internal["injection"] if inj is not None}
    assert windows == {f"span:{DETECTION_ACK!r}"}
    res = load_results(tmp_path)
    assert not res.failures, res.failures
    v = res.tables["detection"]["variants"]
    assert list(v["measure"].unique()) == ["generation"]
    assert list(v["variant"]) == ["default", "internal", "persona"]
    assert (v["false_positive_n"] == 2).all()
    # The paper's table holds the paper's trials only.
    assert res.tables["detection"]["detection"]["n_trials"].sum() == 2 + 2
