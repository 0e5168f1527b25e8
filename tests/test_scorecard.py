"""Content specificity (identification, mutual information, confabulations) and the scorecard,
on constructed runs with known answers. No model needed."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from introscope import analysis_content as ac
from introscope.cli import app
from introscope.core.vectors import VectorSet, save_vectors
from introscope.report import write_report
from introscope.scorecard import STEPS, ScoreLine, scorecard, scorecard_html
from introscope.stats import rate
from introscope.store import (
    RunStore,
    TrialRecord,
    decode_json_columns,
    load_run,
    stable_hash,
    write_manifest,
)

RUN_ID = "scorecard-run"
CONCEPTS = ["Oceans", "Bread", "Trees", "Peace", "Silver", "Dust", "Mirrors", "Poetry"]


class Builder:
    def __init__(self) -> None:
        self.records: list[TrialRecord] = []

    def add(
        self,
        experiment: str,
        condition: dict[str, Any],
        *,
        measure: str = "generation",
        response: str | None = None,
        grades: dict[str, Any] | None = None,
        logits: dict[str, Any] | None = None,
    ) -> None:
        i = len(self.records)
        self.records.append(
            TrialRecord(
                trial_id=stable_hash({"i": i, "experiment": experiment}),
                run_id=RUN_ID,
                experiment=experiment,
                cell_id=stable_hash({"experiment": experiment, **condition})[:12],
                condition={**condition, "rep": i},
                prompt=f"prompt {i}",
                measure=measure,  # type: ignore[arg-type]
                seed=i,
                response=response,
                logits=logits,
                grades=grades or {},
            )
        )

    def frame(self) -> pd.DataFrame:
        return decode_json_columns(pd.DataFrame([r.to_row() for r in self.records]))


def cond(concept: str | None, layer: int | None, strength: float | None, control: str) -> dict:
    return {"concept": concept, "layer": layer, "strength": strength, "control": control}


def text_grade(
    injected: str, reported: str | None, *, affirmative: bool = True, outcome: str | None = None
) -> dict[str, Any]:
    correct = reported == injected
    if outcome is None:
        if not affirmative:
            outcome = "miss"
        elif correct:
            outcome = "correct_detection"
        elif reported is not None:
            outcome = "confabulated_concept"
        else:
            outcome = "detection_without_identification"
    return {
        "rules": {
            "coherent": True,
            "affirmative": affirmative,
            "correct_concept": correct,
            "noticed_first": correct,
            "success": affirmative and correct,
            "outcome": outcome,
            "reported": reported,
        }
    }


def logits_run(reporter: str, n_rep: int = 40, seed: int = 0) -> pd.DataFrame:
    """K=8 concepts, n_rep trials each, top_candidate perfect or shuffled."""
    rng = random.Random(seed)
    b = Builder()
    injected = [c for c in CONCEPTS for _ in range(n_rep)]
    if reporter == "perfect":
        reported = list(injected)
    else:
        reported = list(injected)
        rng.shuffle(reported)
    for inj, rep in zip(injected, reported, strict=True):
        b.add(
            "detection",
            cond(inj, 10, 4.0, "concept"),
            measure="logits",
            logits={
                "p_yes": 0.5,
                "concept_rank": 1 if rep == inj else 2,
                "n_candidates": len(CONCEPTS),
                "top_candidate": rep,
            },
        )
    return b.frame()


# --------------------------------------------------------------------------- known answers


def test_perfect_reporter_mi_is_log2_k_and_identification_is_one() -> None:
    df = logits_run("perfect")
    mi = ac.mutual_information_table(df)
    row = mi[(mi["source"] == "logits") & (mi["control"] == "concept")].iloc[0]
    assert row["mi_bits_n"] == 8 * 40 and row["n_concepts"] == 8
    assert math.isclose(row["max_bits"], 3.0)
    assert abs(row["mi_bits"] - 3.0) < 0.1
    assert row["mi_bits_ci_low"] <= row["mi_bits"] <= row["mi_bits_ci_high"]
    assert row["p_value"] < 0.01
    ident = ac.identification_table(df)
    r = ident.iloc[0]
    assert r["identification"] == 1.0 and r["identification_n"] == 320
    assert math.isclose(r["chance"], 1 / 8)
    assert math.isclose(r["identification_vs_chance"], 1 - 1 / 8)
    assert math.isclose(r["identification_ci_low"], rate(320, 320).low)


def test_shuffled_reporter_mi_is_zero() -> None:
    df = logits_run("shuffled", n_rep=60, seed=3)
    row = ac.mutual_information_table(df).iloc[0]
    assert abs(row["mi_bits"]) < 0.1
    assert row["p_value"] > 0.05
    assert row["mi_bits_ci_low"] < 0.05


def text_run() -> pd.DataFrame:
    b = Builder()
    # Oceans injected: 4 correct, 3 name Bread, 2 name Trees, 1 unlisted topic, 2 no concept,
    # 3 not affirmative (one naming Bread, which is not a confabulation)
    plan: list[tuple[str | None, bool, str | None]] = (
        [("Oceans", True, None)] * 4
        + [("Bread", True, None)] * 3
        + [("Trees", True, None)] * 2
        + [(None, True, "confabulated_concept")]
        + [(None, True, None)] * 2
        + [("Bread", False, None)]
        + [(None, False, None)] * 2
    )
    for rep, aff, outcome in plan:
        b.add(
            "detection",
            cond("Oceans", 10, 4.0, "concept"),
            response="r",
            grades=text_grade("Oceans", rep, affirmative=aff, outcome=outcome),
        )
    # a second injected concept so K = 2; Bread named as Bread (correct)
    for _ in range(3):
        b.add(
            "detection",
            cond("Bread", 10, 4.0, "concept"),
            response="r",
            grades=text_grade("Bread", "Bread"),
        )
    # random control naming Poetry: excluded from the default (concept) profile
    b.add(
        "detection",
        cond("Oceans", 10, 4.0, "random"),
        response="r",
        grades=text_grade("Oceans", "Poetry"),
    )
    return b.frame()


def fake_vectors(names: list[str], n_layers: int = 12, d: int = 6) -> VectorSet:
    g = torch.Generator().manual_seed(0)
    vecs = {n: torch.randn(n_layers, d, generator=g) for n in names}
    # Bread is Oceans plus a little noise: highly related
    vecs["Bread"] = vecs["Oceans"] + 0.1 * torch.randn(n_layers, d, generator=g)
    return VectorSet(vecs, "fake", "", d, n_layers, "mean_diff")


def test_confabulation_counts() -> None:
    df = text_run()
    conf = ac.confabulation_trials(df)
    assert len(conf) == 3 + 2 + 1
    assert conf["named"].value_counts().to_dict() == {"Bread": 3, "Trees": 2, "<other topic>": 1}
    vs = fake_vectors(CONCEPTS)
    table = ac.confabulation_table(df, vs)
    assert list(table["named"]) == ["Bread", "Trees", "<other topic>"]
    assert list(table["count"]) == [3, 2, 1]
    assert table["fraction_n"].iloc[0] == 6 and math.isclose(table["fraction"].iloc[0], 0.5)
    assert table["concrete"].iloc[0] is True and table["concrete"].iloc[1] is True
    assert table["concrete"].iloc[2] is None
    # the cosine of Bread vs Oceans at layer 10, from the vectors
    o, br = vs.get("Oceans", 10), vs.get("Bread", 10)
    expected = float(torch.nn.functional.cosine_similarity(o, br, dim=0))
    assert math.isclose(table["cosine"].iloc[0], expected, rel_tol=1e-5)
    assert table["cosine_n"].iloc[0] == 3
    s = ac.confabulation_summary(df, vs)
    assert s["n_affirmative"] == 12 + 3 and s["n_confabulated"] == 6
    assert s["concrete_n"] == 5 and s["concrete_rate"] == 1.0
    assert s["top_named"][0] == ("Bread", 3)
    assert s["cosine_n"] == 5 and s["cosine"] > s["pair_cosine"]
    # the random control's confabulation shows only when asked for
    assert len(ac.confabulation_trials(df, controls=("random",))) == 1
    # concreteness rules
    assert ac.is_concrete("Hats") and ac.is_concrete("Oceans")
    assert ac.is_concrete("Peace") is False and ac.is_concrete("Justice") is False
    assert ac.is_concrete("zebra-stripes") is None


def test_text_identification_and_none_label() -> None:
    df = text_run()
    ident = ac.identification_table(df)
    r = ident[(ident["source"] == "text") & (ident["control"] == "concept")].iloc[0]
    # affirmative concept trials: 12 Oceans + 3 Bread; correct: 4 + 3
    assert r["identification_n"] == 15 and math.isclose(r["identification"], 7 / 15)
    assert math.isclose(r["chance"], 0.5)  # two concepts injected
    mi = ac.mutual_information_table(df)
    m = mi[(mi["source"] == "text") & (mi["control"] == "concept")].iloc[0]
    assert m["mi_bits_n"] == 18  # every concept trial, "<none>" included
    assert math.isclose(m["none_fraction"], 5 / 18)  # 1 unlisted topic + 2 + 2
    dropped = ac.mutual_information_table(df, drop_none=True)
    assert dropped[dropped["control"] == "concept"].iloc[0]["mi_bits_n"] == 13


# --------------------------------------------------------------------------- scorecard


def build_run(run_dir: Path) -> None:
    b = Builder()
    rng = random.Random(1)
    concepts = CONCEPTS[:4]
    # no-injection control: 3 of 30 false positives
    for k in range(30):
        b.add(
            "detection",
            cond(None, None, None, "none"),
            response="r",
            grades={
                "rules": {
                    "coherent": True,
                    "affirmative": k < 3,
                    "outcome": "false_positive" if k < 3 else "correct_rejection",
                    "reported": None,
                }
            },
        )
    for layer, strength, p_aff, p_id in ((5, 2.0, 0.3, 0.2), (10, 4.0, 0.7, 0.6)):
        for control in ("concept", "random", "negated"):
            for c in concepts:
                for _ in range(8):
                    aff = rng.random() < (p_aff if control == "concept" else 0.2)
                    ok = aff and control == "concept" and rng.random() < p_id
                    rep = c if ok else (rng.choice(concepts) if aff else None)
                    b.add(
                        "detection",
                        cond(c, layer, strength, control),
                        response="r",
                        grades=text_grade(c, rep, affirmative=aff),
                    )
    # logits: detection P(yes) and candidate readout
    for k in range(10):
        b.add(
            "detection",
            cond(None, None, None, "none"),
            measure="logits",
            logits={"p_yes": 0.2 + 0.01 * k, "n_candidates": 4, "top_candidate": "Oceans"},
        )
    for layer, strength in ((5, 2.0), (10, 4.0)):
        for control in ("concept", "random", "negated"):
            for c in concepts:
                for k in range(4):
                    top = c if (control == "concept" and k < 3) else rng.choice(concepts)
                    b.add(
                        "detection",
                        cond(c, layer, strength, control),
                        measure="logits",
                        logits={
                            "p_yes": 0.5 + 0.02 * k,
                            "concept_rank": 1 if top == c else 2,
                            "n_candidates": 4,
                            "top_candidate": top,
                        },
                    )
    # yes-bias
    for q, kind in (("q1", "world"), ("q2", "self")):
        b.add(
            "yes_bias",
            {"question_id": q, "question_kind": kind, **cond(None, None, None, "none")},
            measure="logits",
            logits={"p_yes": 0.1},
        )
        for layer, strength in ((5, 2.0), (10, 4.0)):
            for control in ("concept", "random"):
                for k in range(4):
                    b.add(
                        "yes_bias",
                        {
                            "question_id": q,
                            "question_kind": kind,
                            **cond("Oceans", layer, strength, control),
                        },
                        measure="logits",
                        logits={"p_yes": 0.2 + 0.01 * k},
                    )
    # category thresholds at layer 10 (the layer the scorecard selects) and layer 5
    for cat, words in (
        ("abstract_nouns", ["Peace", "Truth", "Duty"]),
        ("verbs", ["Eating", "Running", "Jumping"]),
    ):
        for i, w in enumerate(words):
            b.add(
                "category_thresholds",
                {"concept": w, "category": cat, "layer": None, "control": "measure"},
                measure="logits",
                logits={"word_logprob": -5.0 - i, "word_n_tokens": 1, "cosine": {"10": 0.1}},
            )
            for layer in (5, 10):
                for s_i, strength in enumerate((2.0, 4.0)):
                    base = {"concept": w, "category": cat, "layer": layer, "strength": strength}
                    b.add(
                        "category_thresholds",
                        {**base, "control": "random"},
                        measure="logits",
                        logits={"p_yes": 0.2},
                    )
                    b.add(
                        "category_thresholds",
                        {**base, "control": "concept"},
                        measure="logits",
                        logits={"p_yes": 0.2 + 0.2 * s_i + 0.01 * i},
                    )
    # intentional control, for the instruction figure
    for instr in ("think", "dont_think", "silent_task", "mention"):
        for k in range(4):
            b.add(
                "intentional_control",
                {"sentence_id": 1, "word": "Bread", "instruction": instr},
                measure="logits",
                logits={
                    "cos_by_layer": [0.1 + 0.01 * k, 0.2, 0.15 + 0.02 * k],
                    "baseline_by_layer": [0.05, 0.05, 0.05],
                },
            )
    with RunStore(run_dir) as store:
        store.write_batch(b.records)
    write_manifest(run_dir, {"run_id": RUN_ID, "model": "tiny <model> & co"})
    save_vectors(fake_vectors(CONCEPTS), run_dir / "vectors.safetensors")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("scorecard_run")
    build_run(d)
    return d


@pytest.fixture(scope="module")
def card(run_dir: Path) -> list[ScoreLine]:
    return scorecard(run_dir)


def test_scorecard_has_every_step(card: list[ScoreLine]) -> None:
    assert [ln.step for ln in card] == sorted(ln.step for ln in card)
    assert {ln.step for ln in card} == set(STEPS) == set(range(1, 10))
    for ln in card:
        assert isinstance(ln.n, int)
        assert ln.sentence
        assert "aware" not in ln.sentence.lower() or "not" in ln.sentence.lower()
        if ln.available:
            assert ln.n > 0
            assert math.isfinite(ln.estimate)
            assert math.isfinite(ln.ci_low) and math.isfinite(ln.ci_high)
            assert ln.ci_low <= ln.estimate + 1e-9 <= ln.ci_high + 2e-9
        else:
            assert ln.n == 0 and ln.sentence.startswith(("Not run", "Not available"))
    by_step = {s: [ln for ln in card if ln.step == s] for s in STEPS}
    assert by_step[9] and all(ln.config.startswith("layer 10") for ln in by_step[9])
    for s in (1, 2, 3, 4, 5, 9):
        assert all(ln.available for ln in by_step[s]), by_step[s]
    assert len(by_step[4]) == 2 and len(by_step[5]) == 4


def test_scorecard_configuration_is_selected_and_reused(card: list[ScoreLine]) -> None:
    first = card[0]
    assert "selected after the fact" in first.sentence
    assert first.config == "layer 10, strength 4"
    for ln in card:
        if ln.step in (2, 3, 4):
            assert ln.config == "layer 10, strength 4", ln
    mi_text = [ln for ln in card if ln.name.startswith("mutual information") and "text" in ln.name]
    assert mi_text and mi_text[0].config.startswith("layer 10")


def test_scorecard_html_escapes(run_dir: Path, card: list[ScoreLine]) -> None:
    page = scorecard_html(run_dir)
    assert "tiny &lt;model&gt; &amp; co" in page and "<model>" not in page
    assert page.count("<tr") == len(card) + 1
    assert page.count('<tr class="muted">') == sum(1 for ln in card if not ln.available)


def test_report_starts_with_scorecard(run_dir: Path) -> None:
    path = write_report(run_dir)
    text = path.read_text()
    assert text.index('id="scorecard"') < text.index('id="summary"')
    assert 'id="content"' in text
    assert (run_dir / "plots" / "mutual_information.png").exists()
    assert (run_dir / "plots" / "instruction_cosines.png").exists()


def test_cli_scorecard(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["scorecard", str(run_dir)])
    assert ok.exit_code == 0, ok.output
    assert "scorecard" in ok.output
    bad = runner.invoke(app, ["scorecard", str(tmp_path)])
    assert bad.exit_code != 0
    assert "not an introscope run directory" in bad.output.replace("\n", " ")


def test_load_run_frame_roundtrip(run_dir: Path) -> None:
    df = load_run(run_dir)
    trials = ac.content_trials(df)
    assert set(trials["source"]) == {"text", "logits"}
    assert (trials["control"] != "none").all()


def test_interval_text_never_prints_nan() -> None:
    from introscope.scorecard import _ci

    assert _ci(0.125, -0.5, 0.75) == "+0.12 [-0.50, +0.75]"
    for lo, hi in ((math.nan, math.nan), (0.1, math.nan)):
        text = _ci(0.125, lo, hi)
        assert "nan" not in text and text.startswith("+0.12") and "too few trials" in text
    assert _ci(math.nan, 0.0, 1.0) == "n/a"
