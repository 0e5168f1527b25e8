"""The scorecard on a constructed run with known answers (no model): every step present in
order, the configuration selected in step 2 reused later, escaping, the terminal view at 80
columns and its JSON, and the CLI."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from introscope.cli import app
from introscope.core.vectors import VectorSet, save_vectors
from introscope.experiments import step_parts, step_titles
from introscope.experiments.yes_bias.params import PROTOCOL
from introscope.experiments.yes_bias.questions import selected
from introscope.headlines import Headline, ci_or_none
from introscope.report.document import write_report
from introscope.report.scorecard import scorecard, scorecard_html
from introscope.report.terminal import render_scorecard
from support import TrialRecords

CONCEPTS = ["Oceans", "Bread", "Trees", "Peace", "Silver", "Dust", "Mirrors", "Poetry"]


def cond(concept: str | None, layer: int | None, strength: float | None, control: str) -> dict:
    return {"concept": concept, "layer": layer, "strength": strength, "control": control}


def text_grade(injected: str, reported: str | None, *, affirmative: bool) -> dict[str, Any]:
    correct = reported == injected
    outcome = (
        "miss"
        if not affirmative
        else "correct_detection"
        if correct
        else "confabulated_concept"
        if reported
        else "detection_without_identification"
    )
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


def neutral_readout(concept: str, control: str, k: int) -> dict[str, Any]:
    """The neutral-frame readout of a concept-vector logits trial (issue 10 defect 3): the
    concept ranks first there on one trial in four."""
    if control != "concept":
        return {}
    top = concept if k == 0 else "Silver"
    return {"neutral_rank": 1 if top == concept else 2, "neutral_top_candidate": top}


def add_variants(b: TrialRecords, concepts: list[str]) -> None:
    """Logits trials under the earlier-turn window and the third-party question, at the
    configuration step 2 selects (issue 10 defects 3 and 12)."""
    for variant, push in (("internal", 0.1), ("persona", 0.3)):
        tag = {"variant": variant}
        b.add(
            "detection",
            {**cond(None, None, None, "none"), **tag},
            measure="logits",
            logits={"p_yes": 0.3, "n_candidates": 4, "top_candidate": "Oceans"},
        )
        for c in concepts:
            for k in range(4):
                b.add(
                    "detection",
                    {**cond(c, 10, 4.0, "concept"), **tag, "rep": k},
                    measure="logits",
                    logits={
                        "p_yes": 0.3 + push + 0.01 * k + 0.02 * concepts.index(c),
                        "concept_rank": 1 if k < 2 else 2,
                        "n_candidates": 4,
                        "top_candidate": c if k < 2 else "Silver",
                        **neutral_readout(c, "concept", k),
                    },
                )


def build_run(run_dir: Path) -> None:
    b = TrialRecords("scorecard-run")
    rng = random.Random(1)
    concepts = CONCEPTS[:4]
    for k in range(30):  # no-injection control: 3 of 30 false positives
        b.add(
            "detection",
            cond(None, None, None, "none"),
            response="r",
            grades={
                "rules": {
                    "coherent": True,
                    "affirmative": k < 3,
                    "reported": None,
                    "outcome": "false_positive" if k < 3 else "correct_rejection",
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
                            "p_yes": 0.5 + 0.02 * k + 0.01 * concepts.index(c),
                            "concept_rank": 1 if top == c else 2,
                            "n_candidates": 4,
                            "top_candidate": top,
                            **neutral_readout(c, control, k),
                        },
                    )
    # yes-bias protocol 2: a "no"- and a "yes"-answer question, crossed with the concepts
    for q, base in ((selected(1)[0], 0.1), (selected(1)[2], 0.9)):
        about = {"question_id": q.question_id, "answer": q.answer, "topic": q.topic}
        about["protocol"] = PROTOCOL
        b.add(
            "yes_bias",
            {**about, **cond(None, None, None, "none")},
            measure="logits",
            logits={"p_yes": base},
        )
        for layer, strength in ((5, 2.0), (10, 4.0)):
            for control in ("concept", "random"):
                for i, c in enumerate(concepts):
                    b.add(
                        "yes_bias",
                        {**about, **cond(c, layer, strength, control)},
                        measure="logits",
                        logits={"p_yes": base + 0.05 + 0.01 * i},
                    )
    # Five concepts per category and three strengths: enough for a dose-response interval.
    # Step 9 leaves out the concepts step 2 chose its configuration on ("Peace" may be one),
    # so abstract nouns have a sixth.
    for cat, words in (
        ("abstract_nouns", ["Peace", "Truth", "Duty", "Justice", "Freedom", "Honor"]),
        ("verbs", ["Eating", "Running", "Jumping", "Singing", "Writing"]),
    ):
        for i, w in enumerate(words):
            b.add(
                "category_thresholds",
                {"concept": w, "category": cat, "layer": None, "control": "measure"},
                measure="logits",
                logits={"word_logprob": -5.0 - i, "word_n_tokens": 1, "cosine": {"10": 0.1}},
            )
            for layer in (5, 10):
                for s_i, strength in enumerate((2.0, 4.0, 8.0)):
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
    add_variants(b, concepts)
    b.write(run_dir, {"model": {"spec": "tiny <model> & co"}})
    g = torch.Generator().manual_seed(0)
    vecs = {n: torch.randn(12, 6, generator=g) for n in CONCEPTS}
    save_vectors(VectorSet(vecs, "fake", "", 6, 12, "mean_diff"), run_dir / "vectors.safetensors")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("scorecard_run")
    build_run(d)
    return d


@pytest.fixture(scope="module")
def card(run_dir: Path) -> list[Headline]:
    return scorecard(run_dir)


def test_scorecard_has_every_step(card: list[Headline]) -> None:
    steps = [ln.step for ln in card]
    assert steps == sorted(steps)  # type: ignore[type-var]
    assert set(steps) == set(step_titles())
    # The injected-thoughts argument is steps 0-9; other suites number theirs apart.
    injected = {s for s, part in step_parts().items() if part == "injected thoughts"}
    assert injected == set(range(0, 10))
    assert {s for s in steps if s not in injected} == {s for s in step_titles() if s > 100}
    for ln in card:
        assert ln.sentence and isinstance(ln.n, int) and ln.unit
        assert "aware" not in ln.sentence.lower() or "not" in ln.sentence.lower()
        if ln.available:
            assert ln.n > 0 and math.isfinite(ln.estimate)
            assert ln.ci_low <= ln.estimate + 1e-9 <= ln.ci_high + 2e-9
        else:
            assert ln.n == 0 and ln.sentence.startswith(("Not run", "Not available"))
    by_step = {s: [ln for ln in card if ln.step == s] for s in step_titles()}
    assert by_step[9] and all(ln.config.startswith("layer 10") for ln in by_step[9])
    assert all("held-out concepts" in ln.sentence for ln in by_step[9])
    for s in (1, 2, 3, 5, 9):
        assert all(ln.available for ln in by_step[s]), by_step[s]
    for s in (0, 6, 7, 8):  # not run here
        assert [ln.available for ln in by_step[s]] == [False]
    for s in (s for s in by_step if s > 100):  # the other suites: not run here
        assert by_step[s] and not any(ln.available for ln in by_step[s])
    # step 2: net detection, then the wordings (the paper's, two variants, the summary); step
    # 5: identification and MI, then the leakage and internality contrasts (issue 10); step
    # 4: random and negated vectors ran, the other-concept and matched-random controls did not
    assert len(by_step[2]) == 5 and len(by_step[5]) == 6
    assert [ln.available for ln in by_step[4]] == [True, True, False, False]
    for s in sorted(s for s in by_step if s > 200):  # the chain-of-thought suite: not run here
        assert by_step[s] and not any(ln.available for ln in by_step[s])


def test_scorecard_configuration_is_selected_and_reused(card: list[Headline]) -> None:
    first = next(ln for ln in card if ln.step == 1)
    # No configuration is declared: it is chosen on half the 4 concepts, read on the others.
    assert "chosen among 2 configurations on 2 concepts and estimated on the other 2" in (
        first.sentence
    )
    assert first.config == "layer 10, strength 4" and first.unit == "concepts" and first.n == 2
    for ln in card:
        if ln.step in (2, 3, 4):
            assert ln.config == "layer 10, strength 4", ln
    mi_text = [ln for ln in card if ln.name.startswith("mutual information") and "text" in ln.name]
    assert mi_text and mi_text[0].config.startswith("layer 10")


def test_scorecard_html_escapes(run_dir: Path, card: list[Headline]) -> None:
    page = scorecard_html(card)
    assert page.count("<tr") == len(card) + 1
    assert page.count('<tr class="muted">') == sum(1 for ln in card if not ln.available)
    text = write_report(run_dir).read_text()
    assert "tiny &lt;model&gt; &amp; co" in text and "<model>" not in text
    assert text.index('id="scorecard"') < text.index('id="summary"')
    assert 'id="content"' in text and (run_dir / "plots" / "mutual_information.png").exists()


def test_terminal_scorecard_reads_at_80_columns(run_dir: Path) -> None:
    console = Console(record=True, width=80)
    render_scorecard(run_dir, console)
    out = console.export_text()
    lines = out.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    for step, title in step_titles().items():
        assert any(ln.startswith(f"{step:>2}  {title}") for ln in lines), title
    # every available line shows estimate [CI], n with its unit, and the configuration
    assert any("pp [" in ln and "concepts" in ln and "layer 10, strength 4" in ln for ln in lines)


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_scorecard_json(run_dir: Path) -> None:
    console = Console(record=True, width=80)
    render_scorecard(run_dir, console, json_out=True)
    data = json.loads(console.export_text())
    assert data["model"] == "tiny <model> & co"
    assert {"step", "name", "estimate", "ci_low", "ci_high", "n", "unit", "sentence"} <= set(
        data["lines"][0]
    )
    assert len(data["lines"]) == len(scorecard(run_dir))


@pytest.mark.slow  # heavy for the default run (CI); make test-all runs it
def test_cli_scorecard(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["scorecard", str(run_dir)])
    assert ok.exit_code == 0, ok.output
    assert "scorecard" in ok.output
    js = runner.invoke(app, ["scorecard", str(run_dir), "--json"])
    assert js.exit_code == 0 and json.loads(js.output)["lines"]
    bad = runner.invoke(app, ["scorecard", str(tmp_path)])
    assert bad.exit_code != 0
    assert "not an introscope run directory" in bad.output.replace("\n", " ")


def test_interval_text_never_prints_nan() -> None:
    assert ci_or_none(0.125, -0.5, 0.75) == "+0.12 [-0.50, +0.75]"
    for lo, hi in ((math.nan, math.nan), (0.1, math.nan)):
        text = ci_or_none(0.125, lo, hi)
        assert "nan" not in text and text.startswith("+0.12") and "too few trials" in text
    assert ci_or_none(math.nan, 0.0, 1.0) == "n/a"
