"""The HTML report and the terminal summary of a constructed run with several slices: every
figure is a PNG, model text is escaped, the page is self-contained and opens with a short
title, the forest plot and a table of contents; a failing slice is shown in red and the
others still render."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from introscope.errors import AnalysisError
from introscope.experiments import EXPERIMENTS
from introscope.experiments.yes_bias.params import PROTOCOL
from introscope.experiments.yes_bias.questions import selected
from introscope.report.document import write_report
from introscope.report.results import load_results
from introscope.report.terminal import render_summary
from introscope.store import write_manifest
from support import TrialRecords

EVIL = 'Yes, I notice <script>alert(1)</script> a thought about <b>oceans</b> & "quotes"'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def det_cond(layer: int | None, strength: float | None, control: str) -> dict[str, Any]:
    concept = None if control == "none" else "oceans"
    return {"concept": concept, "layer": layer, "strength": strength, "control": control}


def rules(*, affirmative: bool, correct: bool = False, outcome: str = "") -> dict[str, Any]:
    return {
        "rules": {
            "coherent": True,
            "affirmative": affirmative,
            "correct_concept": correct,
            "noticed_first": correct,
            "success": affirmative and correct,
            "outcome": outcome
            or ("correct_detection" if correct else ("false_positive" if affirmative else "miss")),
        }
    }


def build_run(run_dir: Path) -> None:
    b = TrialRecords("synthetic-run")
    for k in range(50):
        if k < 30:
            g, resp = rules(affirmative=True, correct=True), "Yes, I detect a thought about oceans."
        elif k < 40:
            g, resp = rules(affirmative=True, outcome="detection_without_identification"), EVIL
        else:
            g, resp = rules(affirmative=False), "No."
        b.add("detection", det_cond(10, 4.0, "concept"), response=resp, grades=g)
    for k in range(50):
        b.add(
            "detection",
            det_cond(None, None, "none"),
            response="r",
            grades=rules(
                affirmative=k < 5, outcome="false_positive" if k < 5 else "correct_rejection"
            ),
        )
    for k in range(50):
        b.add(
            "detection", det_cond(10, 4.0, "random"), response="r", grades=rules(affirmative=k < 8)
        )
    rng = np.random.default_rng(0)
    for (layer, strength, control), mu in {
        (None, None, "none"): 0.2,
        (10, 4.0, "concept"): 0.6,
        (10, 4.0, "random"): 0.4,
    }.items():
        for k in range(20):
            logits: dict[str, Any] = {"p_yes": float(mu + rng.normal(0, 0.05))}
            if control != "none":
                logits.update(concept_rank=1 if k < 10 else 3, n_candidates=10)
            b.add("detection", det_cond(layer, strength, control), measure="logits", logits=logits)
    for q, base in ((selected(1)[0], 0.1), (selected(1)[2], 0.8)):  # a "no"-, a "yes"-answer
        about = {"question_id": q.question_id, "answer": q.answer, "topic": q.topic}
        about["protocol"] = PROTOCOL
        cond = {**about, **det_cond(None, None, "none")}
        b.add("yes_bias", cond, measure="logits", logits={"p_yes": base})
        for control, s in (("concept", 0.1), ("random", 0.05)):
            for k in range(5):
                cond = {**about, **det_cond(10, 4.0, control)}
                b.add(
                    "yes_bias", cond, measure="logits", logits={"p_yes": base + s + 0.01 * (k - 2)}
                )
    for k in range(40):
        b.add(
            "thoughts_vs_text",
            {"sentence_id": f"s{k % 4}", **det_cond(10, 4.0, "concept")},
            response="The old clock ticked.",
            logits={"candidate_rank": 1 if k < 20 else 5, "n_candidates": 10},
            grades={"rules": {"identified": k < 20, "exact_match": k < 30}},
        )
    for injected, n_apology in (("none", 30), ("match", 10), ("other", 28)):
        for k in range(40):
            c = {
                "sentence_id": "s1",
                "word": "bread",
                "injected": injected,
                "inject_concept": None if injected == "none" else "bread",
                "layer": None if injected == "none" else 10,
                "strength": None if injected == "none" else 4.0,
            }
            b.add(
                "prefill",
                c,
                response="Sorry." if k < n_apology else "I meant it.",
                grades={"rules": {"apology": k < n_apology, "coherent": True}},
            )
    for instr, cos in (("think", [0.1, 0.3, 0.2]), ("dont_think", [0.08, 0.15, 0.1])):
        for k in range(10):
            jitter = 0.01 * (k - 4.5)
            b.add(
                "intentional_control",
                {"sentence_id": "s1", "word": "bread", "instruction": instr},
                measure="logits",
                logits={
                    "cos_by_layer": [c + jitter for c in cos],
                    "baseline_by_layer": [0.05, 0.05 + jitter / 2, 0.05],
                },
            )
    b.write(
        run_dir,
        {
            "model": {"spec": "SmolLM2-135M-Instruct <gguf>"},
            "specs": [{"name": "x", "note": "<i>spec</i>"}],
            "start_time": "2026-12-03T10:00:00",
        },
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("run")
    build_run(d)
    return d


@pytest.fixture(scope="module")
def report_path(run_dir: Path) -> Path:
    return write_report(run_dir)


def test_plots_are_pngs_drawn_once(run_dir: Path, report_path: Path) -> None:
    pngs = sorted((run_dir / "plots").glob("*.png"))
    names = {p.stem for p in pngs}
    assert {
        "scorecard",
        "net_detection_heatmap",
        "detection_controls",
        "yes_bias",
        "thoughts_vs_text",
        "prefill",
        "intentional_control",
    } <= names
    for p in pngs:
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000
    text = report_path.read_text(encoding="utf-8")
    alts = re.findall(r'<img alt="([^"]+)"', text)
    assert len(alts) == len(set(alts)), "a figure is embedded twice"


def test_report_is_escaped_and_self_contained(report_path: Path) -> None:
    text = report_path.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert html.escape(EVIL) in text
    assert "&lt;b&gt;oceans&lt;/b&gt;" in text and "<b>oceans</b>" not in text
    assert "&lt;i&gt;spec&lt;/i&gt;" in text and "SmolLM2-135M-Instruct &lt;gguf&gt;" in text
    assert not re.search(r'(src|href)\s*=\s*"(?!data:|#)', text)
    assert "carries information about the injected direction" in text


def test_report_opens_with_title_forest_plot_and_contents(report_path: Path) -> None:
    text = report_path.read_text(encoding="utf-8")
    h1 = re.search(r"<h1>(.*?)</h1>", text)
    assert h1 is not None and len(html.unescape(h1.group(1))) < 90
    assert "detection+" not in h1.group(1)  # no list of parts in the title
    first = text.index("<h1>")
    assert first < text.index('alt="scorecard forest plot"') < text.index('class="toc"')
    assert text.index('class="toc"') < text.index('id="scorecard"') < text.index('id="summary"')
    for anchor in ("detection", "yes-bias", "thoughts-vs-text", "prefill", "intentional-control"):
        assert f'href="#{anchor}"' in text and f'id="{anchor}"' in text
    assert "<details>" in text  # long tables and the manifest are folded


def test_render_summary_fits_80_columns(run_dir: Path) -> None:
    console = Console(record=True, width=80)
    render_summary(run_dir, console)
    out = console.export_text()
    assert "net detection success" in out and "+50 pp" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_failing_slice_is_shown_and_named(run_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "run"
    shutil.copytree(run_dir, d)
    exp = EXPERIMENTS["prefill"]
    original = exp.tables

    def boom(*_a: Any) -> Any:
        raise ValueError("planted failure")

    object.__setattr__(exp, "tables", boom)  # a bug in one slice's analysis
    try:
        res = load_results(d)
        path = write_report(d, results=res)
    finally:
        object.__setattr__(exp, "tables", original)
    text = path.read_text(encoding="utf-8")
    assert 'class="error"' in text and "the prefill analysis failed" in text
    assert "planted failure" in text
    assert 'id="detection"' in text  # the other slices still render
    with pytest.raises(AnalysisError, match="prefill"):
        res.raise_failures()


def test_empty_run_still_renders(tmp_path: Path) -> None:
    write_manifest(tmp_path / "r", {"run_id": "empty"})
    out = write_report(tmp_path / "r")
    text = out.read_text(encoding="utf-8")
    assert "<h1>" in text and "No headline results" in text


def test_report_in_headless_chromium(report_path: Path, tmp_path: Path) -> None:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium not installed (CI installs it from Debian packages)")
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        report_path.resolve().as_uri(),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish rendering the report within 60 s")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in proc.stdout
    bad = [
        ln
        for ln in proc.stderr.splitlines()
        if "Uncaught" in ln or "CONSOLE" in ln or "Content Security Policy" in ln
    ]
    assert not bad, bad


def test_report_shows_grader_agreement_and_low_trust(report_path: Path) -> None:
    """Issue 10: every report that uses the rule grader has the rules-vs-hand-labels table,
    and the lines built on a criterion below kappa 0.8 say so."""
    from introscope.grading.validation import governing

    text = report_path.read_text(encoding="utf-8")
    for anchor in ("rules-validation", "rules-validation-prefill"):
        assert f'id="{anchor}"' in text and f'href="#{anchor}"' in text
    assert "Grader agreement (rules vs hand labels)" in text
    # noticed-before-naming cannot be measured on the bundled model's answers, so the
    # success line (built on all four criteria) is always low trust
    noticed = governing("detection", "noticed_first")
    assert noticed is not None and noticed.low_trust
    assert "Low trust:" in text and "noticed_first not measurable" in text
