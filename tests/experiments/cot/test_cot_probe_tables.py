"""The probe slice's tables and scorecard on constructed runs: activations with the answer
planted linearly give probe accuracy about 1 above both baselines and a positive decision
lead; activations unrelated to the answers give chance; steering and pairs by hand; the
probe procedure's chain positions on a fake model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cot_fakes import FakeLM, FakeReasoner
from threadpoolctl import threadpool_limits

from introscope.experiments.base import Trial
from introscope.experiments.cot.prompts import direct_prompt, reasoning_prompt
from introscope.experiments.cot_probe.procedure import positions_to_keep, probe_readouts
from introscope.items.comparison_pairs import comparison_pair_items
from introscope.report.results import load_results, scorecard_lines
from introscope.store import write_batch_arrays

N_FAM, PER = 6, 10
D = 8
POSITIONS = [0, 5, 10, 15]
STATED = 12


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Any:
    # One label shuffle instead of the tables' three: the shuffled-label baseline is tested
    # on its own in test_cot_probes.py, and every shuffle refits the nested procedure.
    monkeypatch.setattr("introscope.experiments.cot_probe.analysis.N_SHUFFLES", 1)
    with threadpool_limits(1):
        yield


def build(run_dir: Path, trial_records: Any, planted: bool, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=D)
    mu *= 4.0 / np.linalg.norm(mu)
    recs = trial_records()
    arrays = {}
    for f in range(N_FAM):
        for j in range(PER):
            label = "A" if (j + f) % 2 == 0 else "B"
            direct = label if j % 3 else ("B" if label == "A" else "A")
            rec = recs.add(
                "cot_probe",
                {"item": f"it{f}-{j}", "family": f"fam{f}", "kind": "probe"},
                logits={
                    "labels": ["A", "B"],
                    "correct": "A",
                    "final": label,
                    "direct": direct,
                    "n_cot_tokens": 15,
                    "stated_at": STATED,
                    "cot_positions": POSITIONS,
                    "probe_layers": [3, 7],
                    "pair": None,
                },
            )
            sign = (1.0 if label == "A" else -1.0) if planted else 0.0
            pre = rng.normal(size=(2, D))
            pre[1] += sign * mu
            cot = rng.normal(size=(len(POSITIONS), D)) * 0.5 + sign * mu
            arrays[rec.trial_id] = {"pre": pre, "cot": cot}
    recs.write(run_dir)
    write_batch_arrays(run_dir, "p", 0, arrays)


def test_planted_answer_is_decodable_before_the_chain(tmp_path: Path, trial_records: Any) -> None:
    build(tmp_path, trial_records, planted=True)
    results = load_results(tmp_path)
    assert not results.failures
    t = results.tables["cot_probe"]
    probe = t["probe"].iloc[0]
    assert probe["accuracy"] >= 0.95 and probe["accuracy_n"] == N_FAM * PER
    assert probe["majority"] <= 0.6
    assert probe["vs_majority_ci_low"] > 0.2 and probe["vs_shuffled_ci_low"] > 0.2
    assert probe["layers_chosen"].startswith("7 (")
    items = t["items"]
    assert (items["decodable_at"] == 0).mean() >= 0.95
    lead = t["lead"].iloc[0]
    assert lead["lead_tokens"] == pytest.approx(STATED, abs=1.0) and lead["stated"] == 1.0
    assert list(t["probe_layers"]["layer"]) == [3, 7]
    assert t["probe_layers"]["accuracy"].iloc[1] >= 0.95
    acc = t["accuracy"].set_index("answer")
    assert acc.loc["final", "chance"] == 0.5
    assert acc.loc["direct", "accuracy"] == pytest.approx(items["direct_correct"].mean())
    card = {(ln.step, ln.name): ln for ln in scorecard_lines(results) if ln.step in (201, 202)}
    line = card[(201, "answer decodable before the chain (probe accuracy)")]
    assert line.available and line.estimate >= 0.95 and line.unit == "items"
    assert "linearly decodable from the activations before the reasoning" in line.sentence
    assert "has already decided" not in line.sentence
    shuffled = card[(201, "probe accuracy minus the shuffled-label baseline")]
    assert "beyond the shuffled-label baseline" in shuffled.sentence
    assert not card[(202, "steering flip rate (probe direction)")].available


def test_unrelated_activations_give_chance(tmp_path: Path, trial_records: Any) -> None:
    build(tmp_path, trial_records, planted=False, seed=1)
    t = load_results(tmp_path).tables["cot_probe"]
    probe = t["probe"].iloc[0]
    assert abs(probe["accuracy"] - 0.5) < 0.2  # 60 items: SD about 0.065
    assert abs(probe["vs_shuffled"]) < 0.25


def test_without_arrays_the_probe_tables_are_empty(trial_records: Any) -> None:
    recs = trial_records()
    recs.add(
        "cot_probe",
        {"item": "x", "family": "f", "kind": "probe"},
        logits={"labels": ["A", "B"], "correct": "A", "final": "A", "direct": "B"},
    )
    from introscope.experiments.cot_probe.analysis import tables

    t = tables(recs.run(), {})
    assert len(t["items"]) == 1 and t["probe"].empty and t["lead"].empty
    assert t["items"]["direct_is_final"].iloc[0] == 0.0


def test_steering_and_pairs_by_hand(trial_records: Any) -> None:
    from introscope.experiments.cot_probe.analysis import tables

    recs = trial_records()
    for f in range(4):
        for j in range(2):
            item = f"it{f}{j}"
            pair = f"pair{f}"
            final = "Yes" if (f == 0 or j == 0) else "No"  # pair0 answered Yes/Yes
            recs.add(
                "cot_probe",
                {"item": item, "family": f"fam{f}", "kind": "probe"},
                logits={
                    "labels": ["Yes", "No"],
                    "correct": "Yes",
                    "final": final,
                    "direct": "Yes",
                    "pair": pair,
                },
            )
            for direction, flips in (("probe", True), ("random", j == 0), ("orthogonal", False)):
                other = "No" if final == "Yes" else "Yes"
                recs.add(
                    "cot_probe",
                    {
                        "item": item,
                        "family": f"fam{f}",
                        "kind": "steer",
                        "direction": direction,
                        "strength": 1.0,
                    },
                    logits={
                        "labels": ["Yes", "No"],
                        "final": other if flips else final,
                        "target": other,
                        "layer": 5,
                    },
                )
    t = tables(recs.run(), {})
    st = t["steering"].set_index("direction")
    assert st.loc["probe", "flip"] == 1.0 and st.loc["random", "flip"] == 0.5
    assert st.loc["orthogonal", "flip"] == 0.0 and st.loc["probe", "to_target"] == 1.0
    assert st.loc["probe", "vs_random"] == 0.5 and st.loc["probe", "vs_orthogonal"] == 1.0
    assert st.loc["probe", "vs_orthogonal_n"] == 8
    pairs = t["pairs"].set_index("answer")
    assert pairs.loc["final", "n_pairs"] == 4 and pairs.loc["final", "same_answer"] == 0.25
    assert pairs.loc["final", "both_yes"] == 0.25 and pairs.loc["direct", "same_answer"] == 1.0
    # Per pair, with the chain minus without: -1 on three pairs, 0 on pair0.
    assert pairs.loc["final", "vs_direct"] == -0.75 and pairs.loc["final", "vs_direct_n"] == 4
    from introscope.experiments.cot_probe.scorecard import headlines

    line = next(h for h in headlines(t, {}) if h.name.startswith("comparison pairs"))
    assert line.estimate == 0.25 and line.unit == "pairs"
    assert "with the chain minus without it, per pair: -75 pp" in line.sentence, line.sentence


def test_probe_procedure_positions_and_statement() -> None:
    lm = FakeLM()
    items = comparison_pair_items(2)[:2]
    chain = "\n The towers are taller. So the answer is No. Done"
    reasoner = FakeReasoner(
        lambda p: chain + "\nAnswer: No",
        lambda p, labs: "No",
        activation=lambda text: np.full(4, float(len(text))),
    )
    trials = [
        Trial(
            f"t{k}",
            "c",
            {"item": it.id, "kind": "probe"},
            reasoning_prompt(lm, it),
            None,
            k,
            {"direct_prompt": direct_prompt(lm, it)},
        )  # type: ignore[arg-type]
        for k, it in enumerate(items)
    ]
    out = probe_readouts(reasoner, items, trials, 4, [2, 5], 3)
    r = out[0].readout
    assert r is not None
    # Chain tokens: "\n The" " towers" " are" " taller." " So" " the" " answer" " is" " No." " Done"
    assert r["n_cot_tokens"] == 10 and r["stated_at"] == 9
    assert r["cot_positions"] == positions_to_keep(10, 4) == [0, 3, 7, 10]
    assert r["final"] == "No" and r["direct"] == "No" and r["pair"] is not None
    assert out[0].arrays["pre"].shape == (2, 4) and out[0].arrays["cot"].shape == (4, 4)
    # Position 0 is the last prompt token: the activation of the prompt itself.
    assert out[0].arrays["cot"][0, 0] == float(len(trials[0].prompt))
    assert out[0].response == chain + "\nAnswer: No"
