"""The yes-bias solver on the bundled model: protocol-2 trials (the detection frame, the
whole bank without injection, concepts x questions crossed), a tiny run of each preset
through the runner paired with its detection preset, and step 3 computed from it."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import load_vectors
from introscope.experiments import prompts as P
from introscope.experiments.base import Context
from introscope.experiments.detection.params import detection_params
from introscope.experiments.detection.trials import DetectionSolver
from introscope.experiments.yes_bias.logodds import KEPT, WRONG
from introscope.experiments.yes_bias.params import PROTOCOL, yes_bias_params
from introscope.experiments.yes_bias.questions import bank, selected
from introscope.experiments.yes_bias.scorecard import LOGIT_NAME, TEXT_NAME
from introscope.experiments.yes_bias.trials import YesBiasSolver
from introscope.grading import rules
from introscope.report.results import load_results, scorecard_lines
from introscope.runner import run_specs
from introscope.spec import Spec, load_spec, override
from introscope.store import load_run, read_manifest

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parents[2] / "fixtures" / "battery_small"


def tiny(name: str, **changes: Any) -> Spec:
    """A preset cut to 2 concepts, one layer and one strength."""
    return override(load_spec(name), n_concepts=2, layers="0.5", strengths="4", **changes)


def context(spec: Spec, lm: LoadedModel, engine: Engine, params: Any) -> Context[Any]:
    vectors = load_vectors(FIXTURE / "vectors.safetensors", lm)
    return Context(spec, params, lm, engine, vectors)


def test_logit_trials_are_asked_in_the_detection_frame(lm: LoadedModel, engine: Engine) -> None:
    spec = tiny("yes_bias")
    trials = YesBiasSolver().build_trials(context(spec, lm, engine, yes_bias_params(spec)))
    base = [t for t in trials if t.control == "none"]
    injected = [t for t in trials if t.control != "none"]
    assert [t.condition["question_id"] for t in base] == [q.question_id for q in bank()]
    asked = selected(2)
    assert len(injected) == 2 * len(asked) * 3  # concepts x questions x controls, crossed
    for concept in ("Dust", "Satellites"):
        got = {t.condition["question_id"] for t in injected if t.concept == concept}
        assert got == {q.question_id for q in asked}
    det_spec = tiny("detection_logits")
    det = DetectionSolver().build_trials(context(det_spec, lm, engine, detection_params(det_spec)))
    det_prompt = next(t for t in det if t.control == "none").prompt
    preamble = det_prompt[: det_prompt.index(P.TRIAL_MARKER)]
    for t in trials:
        c = t.condition
        assert c["protocol"] == PROTOCOL and c["answer"] in ("yes", "no")
        text = next(q.text for q in bank() if q.question_id == c["question_id"])
        assert t.prompt.startswith(preamble)
        assert f"{P.TRIAL_MARKER} {text}{P.YES_NO_SUFFIX}" in t.prompt
        assert (t.injection is None) == (c["control"] == "none")
    # the same injection as the detection trial of the same configuration: same vector,
    # layer, strength and span ("Trial 1:" onward)
    det_inj = next(t for t in det if t.control == "concept" and t.concept == "Dust").injection
    yb_inj = next(t for t in injected if t.control == "concept" and t.concept == "Dust").injection
    assert det_inj is not None and yb_inj is not None
    assert yb_inj.describe() == det_inj.describe()


def test_generation_asks_the_selected_questions_without_injection(
    lm: LoadedModel, engine: Engine
) -> None:
    spec = tiny("yes_bias_generation", control_trials=3)
    trials = YesBiasSolver().build_trials(context(spec, lm, engine, yes_bias_params(spec)))
    base = [t for t in trials if t.control == "none"]
    assert len(base) == 4 * 3 and {t.condition["rep"] for t in base} == {0, 1, 2}
    assert {t.condition["question_id"] for t in base} == {q.question_id for q in selected(1)}
    assert len({t.trial_id for t in trials}) == len(trials)


def run_pair(lm: LoadedModel, tmp_path: Path, *specs: Spec) -> Path:
    shutil.copy(FIXTURE / "vectors.safetensors", tmp_path / "vectors.safetensors")
    result = run_specs(list(specs), tmp_path, lm=lm)
    assert result.n_new == result.n_trials
    manifest = read_manifest(tmp_path)
    assert manifest["status"] == "complete"
    for spec in specs:  # the manifest records each spec's protocol (detection: 1)
        assert manifest["protocols"][spec.name] == (
            PROTOCOL if spec.experiment == "yes_bias" else 1
        )
    return tmp_path


def test_logit_preset_runs_and_step3_is_computed(lm: LoadedModel, tmp_path: Path) -> None:
    """The yes_bias preset next to detection_logits (2 concepts, one configuration): every
    readout stores P(yes), its log-odds and the yes+no mass; the whole bank gets a baseline
    (and the bundled model's confidently wrong questions are counted); step 3 is computed
    over the 2 concepts."""
    spec = tiny("yes_bias", trials=1)
    run = run_pair(lm, tmp_path, tiny("detection_logits", trials=1), spec)
    df = load_run(run)
    assert len(df[df["experiment"] == "yes_bias"]) == len(bank()) + 2 * 4 * 3
    for _, r in df[df["measure"] == "logits"].iterrows():
        lo, p, m = (r["logits"][k] for k in ("yes_log_odds", "p_yes", "yes_no_mass"))
        assert 0.0 < m <= 1.0 and 0.0 <= p <= 1.0
        assert math.isclose(p, 1.0 / (1.0 + math.exp(-lo)), abs_tol=1e-5)
    res = load_results(run)
    assert not res.failures, res.failures
    q = res.tables["yes_bias"]["yes_bias_questions"]
    assert len(q) == len(bank()) + 1 and q.iloc[0]["question_id"] == "detection"
    statuses = set(q["status"].iloc[1:])
    assert statuses <= {KEPT, WRONG, "dropped: yes/no mass below threshold"}
    summary = res.tables["yes_bias"]["yes_bias_summary"].iloc[0]
    assert summary["n_questions"] == len(bank())
    assert summary["n_dropped_wrong"] == int((q["status"] == WRONG).sum())
    (line,) = [ln for ln in scorecard_lines(res) if ln.step == 3]
    assert line.name == LOGIT_NAME and line.unit == "concepts"
    assert line.available and line.n <= 2 and "Left out:" in line.sentence


def test_generation_preset_runs(lm: LoadedModel, tmp_path: Path) -> None:
    spec = tiny("yes_bias_generation", trials=1, control_trials=2, controls="concept")
    run = run_pair(
        lm,
        tmp_path,
        tiny("detection", controls="concept", control_trials=4, max_new_tokens=8),
        override(spec, max_new_tokens=4),
    )
    df = load_run(run)
    yb = df[df["experiment"] == "yes_bias"]
    assert len(yb) == 4 * 2 + 2 * 4
    for _, r in yb.iterrows():
        assert isinstance(r["response"], str)
        assert r["grades"] == {"rules": {"answered_yes": rules.answered_yes(r["response"])}}
    res = load_results(run)
    assert not res.failures, res.failures
    gen = res.tables["yes_bias"]["yes_bias_generation"]
    assert len(gen) == 1 and gen.iloc[0]["n_trials"] == 8
    answered = int(gen.iloc[0]["answered_yes_n"]) + int(gen.iloc[0]["n_dropped_question"])
    assert answered <= 8  # the rest opened with neither yes nor no
    q = res.tables["yes_bias"]["yes_bias_questions"]
    assert list(q["question_id"]) == [x.question_id for x in selected(1)]
    assert set(q["n_answers"]) <= {0, 1, 2}
    (line,) = [ln for ln in scorecard_lines(res) if ln.step == 3]
    assert line.name in (TEXT_NAME, "bias-corrected detection")
