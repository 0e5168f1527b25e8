"""The leakage control (issue 10 defect 3), done-when: a steering vector that only leaks its
word passes the detection-frame identification but not the detection-minus-neutral-frame
contrast; a reporter that names the injected concept only when asked about an injected
thought passes both.

The real detection solver builds and reads the trials (bundled tokenizer and chat template),
against a constructed engine whose next-token scores are noise plus a push on the injected
concept's first token: in every frame (leaky) or only after the detection prefill
(frame-dependent). Over seeded repeats and 24 concepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from introscope.core.models import LoadedModel
from introscope.core.steering import Injection
from introscope.core.vectors import VectorSet
from introscope.experiments.base import Context
from introscope.experiments.detection import EXPERIMENT, analysis, frames, scorecard
from introscope.experiments.detection.leakage import INTERNAL_NAME, LEAKAGE_NAME, leakage_lines
from introscope.experiments.prompts import IDENTIFY_PREFILL, WORD_GAME_PREFILL
from introscope.headlines import Headline, excludes_zero
from introscope.runner import trial_record
from introscope.spec import validate_spec
from introscope.stats import paired_mean_ci
from introscope.store import decode_json_columns
from introscope.tables import RunFrame
from introscope.words import word_list

CONCEPTS = word_list("main")[:24]
PUSH = 4.0  # added to the injected concept's first-token score (noise has sd 1)
SEEDS = range(20)
VOCAB = 49152  # the bundled tokenizer's


class PushingEngine:
    """Next-token log-probabilities: Gaussian noise, plus ``PUSH`` on the injected concept's
    first token where the engine pushes it. ``leaky``: in every prompt (the vector raises its
    word whatever is asked); otherwise only after the detection prefill."""

    def __init__(self, lm: LoadedModel, leaky: bool, seed: int) -> None:
        self.lm = lm
        self.leaky = leaky
        self.gen = torch.Generator().manual_seed(seed)
        self.calls: list[tuple[list[str], list[Injection | None]]] = []

    def next_token_logprobs(
        self, prompts: list[str], injections: list[Injection | None]
    ) -> torch.Tensor:
        self.calls.append((list(prompts), list(injections)))
        scores = torch.randn(len(prompts), VOCAB, generator=self.gen)
        for row, (prompt, inj) in enumerate(zip(prompts, injections, strict=True)):
            if inj is None or not inj.label.startswith("concept:"):
                continue
            concept = inj.label.split(":", 1)[1].split("@", 1)[0]
            if self.leaky or prompt.endswith(IDENTIFY_PREFILL):
                scores[row, self.lm.encode(concept)[0]] += PUSH
        return torch.log_softmax(scores, dim=-1)

    def capture(self, prompts: list[str], layers: list[int], **_kw: Any) -> list[torch.Tensor]:
        """Residual activations for the residual-norm readout of no-injection trials: any
        fixed values do (this test reads identification, not norms)."""
        return [torch.ones(3, len(layers), self.lm.hidden_size) for _ in prompts]


def spec_dict(**grid: Any) -> dict[str, Any]:
    return {
        "name": "leak",
        "experiment": "detection",
        "measure": "logits",
        "control_trials": 1,
        "grid": {"concepts": CONCEPTS, "layers": [0.5], "strengths": [4.0], **grid},
    }


def fake_vectors(lm: LoadedModel) -> VectorSet:
    g = torch.Generator().manual_seed(0)
    vecs = {c: torch.randn(lm.n_layers, lm.hidden_size, generator=g) for c in CONCEPTS}
    return VectorSet(vecs, "fake", "fake", lm.hidden_size, lm.n_layers, "fake")


def run_frame(lm: LoadedModel, engine: Any, spec_data: dict[str, Any]) -> RunFrame:
    """Build the trials with the real solver, read them with ``engine``, store them as the
    runner would and return the run's frame."""
    spec = validate_spec(spec_data, "test")
    ctx: Context[Any] = Context(spec, EXPERIMENT.params(spec), lm, engine, fake_vectors(lm))
    solver = EXPERIMENT.solver()
    trials = solver.build_trials(ctx)
    results = solver.run_batch(ctx, trials)
    now = datetime.now(UTC)
    rows = [
        trial_record(spec, "r", t, r, 0, now, 0.0, 0).to_row()
        for t, r in zip(trials, results, strict=True)
    ]
    return RunFrame(decode_json_columns(pd.DataFrame(rows)))


Outcome = tuple[dict[str, Headline], pd.Series]


def outcome(run: RunFrame) -> Outcome:
    """The step-5 lines by name (at the scorecard's configuration: the grid's only one, read
    on every concept), and the leakage table's concept-injection row."""
    t = analysis.tables(run, {})
    sel = scorecard.select(t)
    lines = [*scorecard.content_lines(t, sel), *leakage_lines(t, sel)]
    leak = t["leakage"]
    return {ln.name: ln for ln in lines}, leak[leak["variant"] == "default"].iloc[0]


@pytest.fixture(scope="module")
def outcomes(lm: LoadedModel) -> dict[bool, list[Outcome]]:
    return {
        leaky: [outcome(run_frame(lm, PushingEngine(lm, leaky, s), spec_dict())) for s in SEEDS]
        for leaky in (True, False)
    }


def test_a_leaky_vector_identifies_in_the_detection_frame_but_fails_the_contrast(
    outcomes: dict[bool, list[Outcome]],
) -> None:
    ident = "identification above chance (candidate readout)"
    for leaky in (True, False):
        for lines, _ in outcomes[leaky]:
            assert excludes_zero(lines[ident].ci_low), (leaky, lines[ident].sentence)
    passes = [excludes_zero(lines[LEAKAGE_NAME].ci_low) for lines, _ in outcomes[True]]
    # A leaky vector's contrast is 0 in expectation: at most a chance pass (~2.5% per repeat).
    assert sum(passes) <= 2, passes
    for lines, _ in outcomes[True]:
        ln = lines[LEAKAGE_NAME]
        assert ln.unit == "concepts" and ln.n == len(CONCEPTS) and ln.step == 5
        assert abs(ln.estimate) < 0.2
    leaky_text = [lines[LEAKAGE_NAME].sentence for lines, _ in outcomes[True]]
    assert sum("(leakage)" in s for s in leaky_text) >= len(SEEDS) - 2


def test_a_frame_dependent_reporter_passes_both(
    outcomes: dict[bool, list[Outcome]],
) -> None:
    for lines, _ in outcomes[False]:
        ln = lines[LEAKAGE_NAME]
        assert excludes_zero(ln.ci_low), ln.sentence
        assert "not just the vector pushing its word" in ln.sentence
        assert ln.estimate > 0.5


def test_the_log_probability_lift_tells_the_same_story(
    outcomes: dict[bool, list[Outcome]],
) -> None:
    # Both lift the concept by PUSH in the detection frame; only the leaky one in the other.
    # (Each lift is PUSH plus unit-variance noise; means over 24 concepts have sd ~0.3.)
    for leaky in (True, False):
        for _, row in outcomes[leaky]:
            assert abs(row["logprob_lift"] - PUSH) < 1.2
            assert abs(row["neutral_logprob_lift"] - (PUSH if leaky else 0.0)) < 1.2
            assert row["lift_difference_n"] == len(CONCEPTS)
    leaky_passes = [row["lift_difference_ci_low"] > 0 for _, row in outcomes[True]]
    assert sum(leaky_passes) <= 2, leaky_passes
    assert all(row["lift_difference_ci_low"] > 1.0 for _, row in outcomes[False])


def test_the_neutral_readout_uses_the_same_injection_in_the_neutral_frame(
    lm: LoadedModel,
) -> None:
    engine = PushingEngine(lm, True, 0)
    run_frame(
        lm, engine, spec_dict(controls=["concept", "random"], variants=["default", "internal"])
    )
    (_, det_inj), _, (neutral_prompts, neutral_inj) = engine.calls
    assert set(neutral_prompts) == {frames.neutral_prompt(lm)}
    assert neutral_prompts[0].endswith(WORD_GAME_PREFILL)
    # Only concept-vector and no-injection trials are read in the neutral frame.
    concept_inj = [i for i in det_inj if i is None or i.label.startswith("concept:")]
    assert len(neutral_inj) == len(concept_inj)
    for a, b in zip(concept_inj, neutral_inj, strict=True):
        if a is None:
            assert b is None
            continue
        assert b is not None
        assert torch.equal(a.vector, b.vector)
        assert (a.layers, a.strength, a.mode, a.label) == (b.layers, b.strength, b.mode, b.label)
        internal = a.window.kind == "span"
        assert b.window == frames.neutral_window("internal" if internal else "default")


def test_the_internal_variant_gets_its_own_step_5_line(lm: LoadedModel) -> None:
    run = run_frame(lm, PushingEngine(lm, False, 3), spec_dict(variants=["default", "internal"]))
    lines, _ = outcome(run)
    ln = lines[INTERNAL_NAME]
    assert ln.available and ln.unit == "concepts" and ln.n == len(CONCEPTS)
    assert "acknowledgement turn only" in ln.sentence
    assert "log-odds of 'yes' shift by" in ln.sentence
    t = analysis.tables(run, {})
    assert set(t["leakage"]["variant"]) == {"default", "internal"}
    # The paper's tables read the paper's trials only.
    assert t["identification"]["n_trials"].sum() == len(CONCEPTS)


def test_lines_say_not_run_without_the_readout() -> None:
    t = analysis.tables(RunFrame(pd.DataFrame()), {})
    lines = {ln.name: ln for ln in leakage_lines(t, None)}
    assert not lines[LEAKAGE_NAME].available and not lines[INTERNAL_NAME].available
    assert lines[LEAKAGE_NAME].sentence.startswith("Not run: ")


def test_leakage_table_by_hand(trial_records: Any) -> None:
    """Concept-level numbers on a constructed run: three concepts, two trials each."""
    b = trial_records()
    ranks = {"A": [(1, 1), (1, 2)], "B": [(1, 3), (2, 3)], "C": [(1, 1), (1, 1)]}
    for concept, pairs in ranks.items():
        for k, (d, n) in enumerate(pairs):
            b.add(
                "detection",
                {"concept": concept, "layer": 3, "strength": 2.0 * (k + 1), "control": "concept"},
                measure="logits",
                logits={"p_yes": 0.5, "concept_rank": d, "neutral_rank": n, "n_candidates": 4},
            )
    b.add(  # an old trial without the neutral readout is left out
        "detection",
        {"concept": "A", "layer": 3, "strength": 2.0, "control": "concept"},
        measure="logits",
        logits={"p_yes": 0.5, "concept_rank": 1, "n_candidates": 4},
    )
    t = analysis.tables(b.run(), {})["leakage"]
    assert list(t["strength"]) == [2.0, 4.0]
    s2 = t.iloc[0]
    assert s2["n_trials"] == 3 and s2["n_concepts"] == 3
    assert s2["identification"] == 1.0 and s2["identification_ci_low"] == 1.0
    assert np.isclose(s2["neutral_identification"], 2 / 3)
    diffs = [0.0, 1.0, 0.0]
    want = paired_mean_ci(diffs)
    assert np.isclose(s2["frame_difference"], want.estimate)
    assert np.isclose(s2["frame_difference_ci_low"], max(want.low, -1.0))
    assert np.isclose(s2["frame_difference_ci_high"], min(want.high, 1.0))
    assert s2["frame_difference_n"] == 3
    assert np.isclose(s2["identification_vs_chance"], 0.75)
    assert np.isnan(s2["lift_difference"])  # no log-probabilities in this run
