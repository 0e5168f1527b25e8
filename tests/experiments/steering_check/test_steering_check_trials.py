"""The steering-check solver and its readouts: the KL of a zero-strength injection is exactly
0, the KL and word log-probability readouts match hand computations, and tiny real runs of
the new slice and of detection with the new controls go through the runner."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import VectorSet
from introscope.experiments import prompts as P
from introscope.experiments.base import Context
from introscope.experiments.readouts import first_token_ids, kl_divergence, word_logprob
from introscope.experiments.steering_check import EXPERIMENT
from introscope.experiments.steering_check import scorecard as step0
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_spec, run_specs
from introscope.spec import validate_spec
from introscope.store import load_run

CONTROLS = ["concept", "random", "negated", "other", "matched_random"]


def spec_of(concepts: list[str], strengths: list[float], **grid: Any) -> Any:
    return validate_spec(
        {
            "name": "sc",
            "experiment": "steering_check",
            "measure": "logits",
            "batch_size": 64,
            "grid": {
                "concepts": concepts,
                "layers": [0.33],
                "strengths": strengths,
                "controls": CONTROLS,
                **grid,
            },
        },
        "test",
    )


def test_kl_divergence_by_hand() -> None:
    q = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    p = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [1.0, 0.0, 0.0]]))
    kl = kl_divergence(p, q)
    assert kl[0] == 0.0  # exactly: the same distribution
    assert kl[1] == pytest.approx(0.25 * math.log(0.5) + 0.5 * math.log(2.0))
    assert kl[2] == pytest.approx(math.log(2.0))  # a token P never emits contributes nothing
    rows = torch.log_softmax(torch.randn(4, 50, generator=torch.Generator().manual_seed(0)), -1)
    assert kl_divergence(rows, rows[2])[2] == 0.0
    assert all(x > 0 for i, x in enumerate(kl_divergence(rows, rows[2])) if i != 2)


def test_word_logprob_sums_the_spellings_first_tokens(lm: LoadedModel) -> None:
    lp = torch.log_softmax(torch.randn(2, len(lm.tokenizer)), -1)
    ids = first_token_ids(lm, ("Dust", "dust", " Dust", " dust"))
    assert len(ids) >= 2
    want = torch.logsumexp(lp[:, ids].double(), -1)
    assert word_logprob(lm, lp, "Dust") == pytest.approx([float(x) for x in want])


def test_solver_zero_strength_is_exactly_no_injection(
    lm: LoadedModel, engine: Engine, concept_vs: VectorSet
) -> None:
    concepts = concept_vs.names[:3]
    spec = spec_of(concepts, [0.0, 8.0])
    params = EXPERIMENT.params(spec)
    solver = EXPERIMENT.solver()
    trials = solver.build_trials(Context(spec, params, lm, engine, concept_vs))
    assert len(trials) == 3 * 2 * 5
    assert all(t.prompt == lm.chat_prompt(P.NEUTRAL_TURN) for t in trials)
    assert {t.control for t in trials} == set(CONTROLS)
    results = solver.run_batch(Context(spec, params, lm, engine, concept_vs), trials)
    for t, r in zip(trials, results, strict=True):
        out = r.readout
        assert out is not None
        if t.condition["strength"] == 0.0:
            assert out["kl"] == 0.0  # exactly
            assert out["concept_logprob"] == out["concept_logprob_clean"]
        else:
            assert out["kl"] > 0.0
    # the clean log-prob is the same for every trial of a concept
    for c in concepts:
        clean = {
            r.readout["concept_logprob_clean"]
            for t, r in zip(trials, results, strict=True)
            if r.readout and t.concept == c
        }
        assert len(clean) == 1


@pytest.mark.slow
def test_steering_check_real_run(tmp_path: Path) -> None:
    """The slice through the runner on the bundled model: stored rows, both tables, step 0."""
    words = ["Dust", "Trees", "Peace", "Ocean"]
    spec = spec_of(words, [0.0, 8.0], layers=[0.33, 0.83])
    run_spec(spec, tmp_path / "run")
    df = load_run(tmp_path / "run")
    assert len(df) == 4 * 2 * 2 * 5 and set(df["control"]) == set(CONTROLS)
    res = load_results(tmp_path / "run")
    assert not res.failures
    t = res.tables["steering_check"]
    assert len(t["steering_check"]) == 4 and len(t["kl"]) == 4 * 5
    zero = t["kl"][t["kl"]["strength"] == 0.0]
    assert (zero["kl"] == 0.0).all()
    lines = scorecard_lines(res)
    assert lines[0].step == 0 and lines[0].name == step0.LINE
    assert lines[0].unit == "configurations" and lines[0].n == 4  # no detection: no selection


@pytest.mark.slow
def test_detection_with_the_new_controls_real_run(tmp_path: Path) -> None:
    """Detection (logits) and the steering check with the other-concept and matched-random
    controls, in one run: the step-4 lines of the new controls and their KL clause."""
    words = ["Dust", "Trees", "Peace"]
    det = validate_spec(
        {
            "name": "det",
            "experiment": "detection",
            "measure": "logits",
            "control_trials": 2,
            "grid": {
                "concepts": words,
                "layers": [0.33],
                "strengths": [8.0],
                "controls": ["concept", "random", "other", "matched_random"],
            },
        },
        "test",
    )
    run_specs([spec_of(words, [8.0]), det], tmp_path / "run")
    res = load_results(tmp_path / "run")
    assert not res.failures
    effects = res.tables["detection"]["control_effects"]
    assert set(effects["control"]) == {"concept", "random", "other", "matched_random"}
    assert effects["kl"].notna().all() and (effects["kl"] > 0).all()
    step4 = {ln.name: ln for ln in scorecard_lines(res) if ln.step == 4}
    for name in (
        "concept - other-concept vector (paired by concept)",
        "concept - matched-random vector (paired by concept)",
    ):
        assert step4[name].available
        assert "On a neutral prompt its KL from no injection is" in step4[name].sentence
