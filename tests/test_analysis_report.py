from __future__ import annotations

import html
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope import analysis, plots
from introscope.report import format_table, render_summary, write_report
from introscope.stats import mean_difference_ci, paired_mean_ci, rate, rate_difference
from introscope.store import RunStore, TrialRecord, load_run, stable_hash, write_manifest

RUN_ID = "synthetic-run"
EVIL = 'Yes, I notice <script>alert(1)</script> a thought about <b>oceans</b> & "quotes"'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
        cell = stable_hash({"experiment": experiment, **condition, "rep": None})[:12]
        self.records.append(
            TrialRecord(
                trial_id=stable_hash({"i": i, "experiment": experiment}),
                run_id=RUN_ID,
                experiment=experiment,
                cell_id=cell,
                condition={**condition, "rep": i},
                prompt=f"[preamble] ... Do you detect an injected thought? (trial {i})",
                measure=measure,  # type: ignore[arg-type]
                seed=i,
                response=response,
                logits=logits,
                grades=grades or {},
            )
        )


def det_cond(layer: int | None, strength: float | None, control: str) -> dict[str, Any]:
    concept = None if control == "none" else "oceans"
    return {"concept": concept, "layer": layer, "strength": strength, "control": control}


def rules(
    *, coherent: bool = True, affirmative: bool, correct: bool = False, outcome: str = ""
) -> dict[str, Any]:
    first = correct
    return {
        "rules": {
            "coherent": coherent,
            "affirmative": affirmative,
            "correct_concept": correct,
            "noticed_first": first,
            "success": coherent and affirmative and correct and first,
            "outcome": outcome
            or ("correct_detection" if correct else ("false_positive" if affirmative else "miss")),
        }
    }


def build_run(run_dir: Path) -> None:
    b = Builder()
    # --- detection, generation
    # layer 10, strength 4, concept: 30 successes, 10 affirmative w/o identification, 10 misses
    for k in range(50):
        if k < 30:
            g, resp = rules(affirmative=True, correct=True), "Yes, I detect a thought about oceans."
        elif k < 40:
            g = rules(affirmative=True, outcome="detection_without_identification")
            resp = EVIL  # every example of this outcome carries markup
        else:
            g, resp = rules(affirmative=False), "No."
        if k == 0:
            g["judge"] = {"affirmative": {"error": "judge timed out"}, "coherent": True}
        b.add("detection", det_cond(10, 4.0, "concept"), response=resp, grades=g)
    # two trials whose rules grading failed: excluded from n, never counted as False
    b.add("detection", det_cond(10, 4.0, "concept"), response="?", grades={"rules": {"error": "x"}})
    b.add(
        "detection",
        det_cond(10, 4.0, "concept"),
        response="??",
        grades={"rules": {"success": {"error": "x"}, "affirmative": {"error": "x"}}},
    )
    # no-injection control: 5 false positives out of 50, plus one with an error
    for k in range(50):
        b.add(
            "detection",
            det_cond(None, None, "none"),
            response="Yes?" if k < 5 else "I do not detect anything.",
            grades=rules(
                affirmative=k < 5, outcome="false_positive" if k < 5 else "correct_rejection"
            ),
        )
    b.add(
        "detection",
        det_cond(None, None, "none"),
        response="err",
        grades={"rules": {"affirmative": {"error": "boom"}, "coherent": True}},
    )
    for k in range(50):  # random: 8 affirmative, never the concept
        b.add(
            "detection", det_cond(10, 4.0, "random"), response="r", grades=rules(affirmative=k < 8)
        )
    for k in range(20):  # negated: 2 affirmative
        b.add(
            "detection", det_cond(10, 4.0, "negated"), response="n", grades=rules(affirmative=k < 2)
        )
    for k in range(20):  # layer 20: 4 successes
        b.add(
            "detection",
            det_cond(20, 4.0, "concept"),
            response="Yes, oceans." if k < 4 else "No.",
            grades=rules(affirmative=k < 4, correct=k < 4),
        )
    # --- detection, logits
    rng = np.random.default_rng(0)
    det_logit_means = {(None, None, "none"): 0.2, (10, 4.0, "concept"): 0.6}
    det_logit_means[(10, 4.0, "random")] = 0.4
    det_logit_means[(20, 4.0, "concept")] = 0.5
    for (layer, strength, control), mu in det_logit_means.items():
        for k in range(20):
            logits: dict[str, Any] = {"p_yes": float(mu + rng.normal(0, 0.05))}
            if control != "none":
                logits.update(concept_rank=1 if k < 10 else 3, n_candidates=10)
            b.add("detection", det_cond(layer, strength, control), measure="logits", logits=logits)
    # --- yes-bias: two questions, baseline 0.1 / 0.2, shifts per configuration
    yb_shift = {(10, 4.0, "concept"): 0.3, (10, 4.0, "random"): 0.15, (20, 4.0, "concept"): 0.25}
    for q, kind, base in (("q1", "world", 0.1), ("q2", "self", 0.2)):
        cond = {"question_id": q, "question_kind": kind, **det_cond(None, None, "none")}
        b.add("yes_bias", cond, measure="logits", logits={"p_yes": base})
        for (layer, strength, control), s in yb_shift.items():
            for k in range(5):
                cond = {
                    "question_id": q,
                    "question_kind": kind,
                    **det_cond(layer, strength, control),
                }
                b.add(
                    "yes_bias", cond, measure="logits", logits={"p_yes": base + s + 0.01 * (k - 2)}
                )
    # --- thoughts vs text
    for k in range(40):
        c = {"sentence_id": f"s{k % 4}", **det_cond(10, 4.0, "concept")}
        rank = 1 if k < 20 else 5
        b.add(
            "thoughts_vs_text",
            c,
            response="The old clock ticked." if k < 30 else "The old clock tocked.",
            logits={"candidate_rank": rank, "n_candidates": 10},
            grades={"rules": {"identified": rank == 1, "exact_match": k < 30}},
        )
    for k in range(40):
        c = {"sentence_id": f"s{k % 4}", **det_cond(None, None, "none")}
        b.add(
            "thoughts_vs_text",
            c,
            response="The old clock ticked.",
            logits={"candidate_rank": 1 if k < 4 else 7, "n_candidates": 10},
            grades={"rules": {"identified": k < 4, "exact_match": True}},
        )
    # --- prefill
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
                response="Sorry, that was an accident." if k < n_apology else "I meant it.",
                grades={"rules": {"apology": k < n_apology, "coherent": True}},
            )
    # --- intentional control
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
    with RunStore(run_dir) as store:
        store.write_batch(b.records)
    write_manifest(
        run_dir,
        {
            "run_id": RUN_ID,
            "model": "SmolLM2-135M-Instruct <gguf>",
            "weights_hash": "abc123",
            "versions": {"introscope": "0.1.0", "torch": "2.13.0"},
            "spec": {"experiments": ["detection"], "note": "<i>spec</i>"},
        },
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("run")
    build_run(d)
    return d


@pytest.fixture(scope="module")
def df(run_dir: Path) -> pd.DataFrame:
    return load_run(run_dir)


@pytest.fixture(scope="module")
def report_path(run_dir: Path) -> Path:
    return write_report(run_dir)


def row(table: pd.DataFrame, **match: Any) -> pd.Series:
    m = pd.Series(True, index=table.index)
    for k, v in match.items():
        m &= table[k].isna() if v is None else table[k] == v
    sub = table[m]
    assert len(sub) == 1, f"{match}: {len(sub)} rows"
    return sub.iloc[0]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# --------------------------------------------------------------------------- analysis


def test_detection_table_net_score(df: pd.DataFrame) -> None:
    t = analysis.detection_table(df)
    r = row(t, layer=10, strength=4.0, control="concept")
    assert r["n_trials"] == 52
    assert r["success_n"] == 50 and close(r["success"], 0.6)
    assert r["false_positive_n"] == 50 and close(r["false_positive"], 0.1)
    expected = rate_difference(30, 50, 5, 50)
    assert close(r["net_detection"], 0.5)
    assert close(r["net_detection_ci_low"], expected.low)
    assert close(r["net_detection_ci_high"], expected.high)
    assert r["net_detection_n"] == 50 and r["net_detection_n_ref"] == 50
    w = rate(30, 50)
    assert close(r["success_ci_low"], w.low) and close(r["success_ci_high"], w.high)
    # affirmative: 40 of 50 valid (both error trials excluded)
    assert r["affirmative_n"] == 50 and close(r["affirmative"], 0.8)
    assert close(r["identification"], 0.6)
    na = rate_difference(40, 50, 5, 50)
    assert close(r["net_affirmative"], na.estimate) and close(r["net_affirmative_ci_low"], na.low)
    c = row(t, control="none")
    assert c["n_trials"] == 51 and c["claims_detection_n"] == 50
    assert c["success_n"] == 0 and math.isnan(c["net_detection"])
    rnd = row(t, layer=10, strength=4.0, control="random")
    assert close(rnd["net_affirmative"], 8 / 50 - 5 / 50)
    assert list(t["control"][:3]) == ["concept", "random", "negated"]


def test_judge_errors_are_missing(df: pd.DataFrame) -> None:
    t = analysis.detection_table(df, grader="judge")
    r = row(t, layer=10, strength=4.0, control="concept")
    assert r["affirmative_n"] == 0  # the only judge grade for affirmative is an error
    assert analysis.grade_value({"judge": {"x": {"error": "e"}}}, "x", "judge") is None
    assert analysis.grade_value({"rules": {"error": "e"}}, "x") is None
    assert analysis.grade_value({"rules": {"x": False}}, "x") is False


def test_outcome_table(df: pd.DataFrame) -> None:
    t = analysis.outcome_table(df)
    r = row(t, layer=10, strength=4.0, control="concept", outcome="correct_detection")
    assert r["count"] == 30 and r["fraction_n"] == 50 and r["n_ungraded"] == 2
    r = row(
        t, layer=10, strength=4.0, control="concept", outcome="detection_without_identification"
    )
    assert r["count"] == 10


def test_detection_logit_and_yes_bias(df: pd.DataFrame) -> None:
    dl = analysis.detection_logit_table(df)
    r = row(dl, layer=10, strength=4.0, control="concept")
    assert r["top_rank_n"] == 20 and close(r["top_rank"], 0.5) and close(r["chance"], 0.1)
    logit_rows = df[(df["experiment"] == "detection") & (df["measure"] == "logits")]
    p = {k: [lg["p_yes"] for lg in g["logits"]] for k, g in logit_rows.groupby("control")}
    conc = logit_rows[(logit_rows["control"] == "concept") & (logit_rows["layer"] == 10)]
    pc = [lg["p_yes"] for lg in conc["logits"]]
    expected = mean_difference_ci(pc, p["none"])
    assert close(r["p_yes_shift"], expected.estimate)
    assert close(r["p_yes_shift_ci_low"], expected.low)

    yb = analysis.yes_bias_table(df, df)
    assert len(yb) == 3
    y = row(yb, layer=10, strength=4.0, control="concept")
    assert close(y["detection_shift"], expected.estimate)
    # yes-bias shifts are baseline + 0.3 + symmetric jitter -> mean shift exactly 0.3
    assert math.isclose(y["yes_bias_shift"], 0.3, abs_tol=1e-9)
    assert y["yes_bias_shift_n"] == 10 and y["yes_bias_world_shift_n"] == 5
    ctrl_mean = float(np.mean(p["none"]))
    yb_shifts = [0.3 + 0.01 * (k - 2) for k in range(5)] * 2
    bc = mean_difference_ci([v - ctrl_mean for v in pc], yb_shifts)
    assert close(y["bias_corrected_detection"], bc.estimate)
    assert math.isclose(y["bias_corrected_detection_ci_low"], bc.low, abs_tol=1e-9)
    assert not math.isnan(y["pearson_r"]) and y["pearson_n"] == 3
    # detection logits alone (no yes-bias experiment) -> empty
    assert analysis.yes_bias_table(df, df[df["experiment"] == "detection"]).empty


def test_thoughts_vs_text(df: pd.DataFrame) -> None:
    t = analysis.thoughts_vs_text_table(df)
    r = row(t, layer=10, strength=4.0, control="concept")
    assert r["identification_n"] == 40 and close(r["identification"], 0.5)
    assert close(r["identification_vs_chance"], 0.4)
    assert close(r["identification_vs_chance_ci_low"], rate(20, 40).low - 0.1)
    assert close(r["exact_match"], 0.75)
    d = rate_difference(20, 40, 4, 40)
    assert close(r["identification_vs_control_ci_high"], d.high)
    assert close(r["both"], 0.5)


def test_prefill(df: pd.DataFrame) -> None:
    t = analysis.prefill_table(df)
    r = row(t, injected="match", layer=10, strength=4.0)
    d = rate_difference(10, 40, 30, 40)
    assert close(r["apology"], 0.25) and close(r["apology_vs_none"], -0.5)
    assert close(r["apology_vs_none_ci_low"], d.low) and close(r["apology_vs_none_ci_high"], d.high)
    o = row(t, injected="other", layer=10, strength=4.0)
    assert close(o["apology_vs_none"], 28 / 40 - 30 / 40)
    assert row(t, injected="none")["apology_n"] == 40


def test_intentional_control(df: pd.DataFrame) -> None:
    t = analysis.intentional_control_table(df)
    th = row(t, row_type="instruction", instruction="think", layer=1)
    deltas = [0.3 + 0.01 * (k - 4.5) - (0.05 + 0.005 * (k - 4.5)) for k in range(10)]
    exp = paired_mean_ci(deltas)
    assert math.isclose(th["delta"], exp.estimate, abs_tol=1e-12)
    assert math.isclose(th["delta_ci_low"], exp.low, abs_tol=1e-12)
    assert th["delta_n"] == 10
    con = row(t, row_type="contrast", instruction="think - dont_think", layer=1)
    assert math.isclose(con["delta"], 0.15, abs_tol=1e-9)
    assert con["delta_ci_low"] > 0


def test_empty_and_missing_experiments(tmp_path: Path) -> None:
    empty = pd.DataFrame()
    for fn in (
        analysis.detection_table,
        analysis.detection_logit_table,
        analysis.thoughts_vs_text_table,
        analysis.prefill_table,
        analysis.intentional_control_table,
        analysis.outcome_table,
    ):
        assert fn(empty).empty
    assert analysis.yes_bias_table(empty, empty).empty
    assert analysis.summary_lines(empty) == []
    for fn2 in (
        plots.plot_net_detection_heatmap,
        plots.plot_detection_controls,
        plots.plot_yes_bias_scatter,
        plots.plot_intentional_control,
        plots.plot_prefill,
        plots.plot_thoughts_vs_text,
    ):
        assert fn2(empty, tmp_path / "x.png") is None
    assert not (tmp_path / "x.png").exists()
    # a run with a manifest and no trials still renders
    write_manifest(tmp_path / "r", {"run_id": "empty"})
    out = write_report(tmp_path / "r")
    assert "introscope report" in out.read_text(encoding="utf-8")


def test_summary_lines(df: pd.DataFrame) -> None:
    lines = analysis.summary_lines(df)
    names = [ln["name"] for ln in lines]
    assert "net detection claim (concept)" in names
    assert "false positives (no injection)" in names
    for ln in lines:
        assert set(ln) == {"name", "estimate", "ci_low", "ci_high", "n", "sentence"}
        assert "aware" not in ln["sentence"].lower()
    top = next(ln for ln in lines if ln["name"] == "net detection success (concept)")
    assert close(top["estimate"], 0.5) and top["n"] == 50
    assert "layer 10, strength 4" in top["sentence"]


def test_format_table() -> None:
    t = pd.DataFrame([{"layer": 3}])
    t_row: dict[str, Any] = {}
    analysis._put_rate(t_row, "x", [True] * 10 + [False] * 40)
    analysis._put_rate_diff(t_row, "d", [True] * 30 + [False] * 20, [True] * 5 + [False] * 45)
    f = format_table(pd.concat([t, pd.DataFrame([t_row])], axis=1))
    assert list(f.columns) == ["layer", "x", "d"]
    assert f["x"].iloc[0] == f"0.20 [{rate(10, 50).low:.2f}, {rate(10, 50).high:.2f}] (n=50)"
    assert f["d"].iloc[0].startswith("+0.50 [") and f["d"].iloc[0].endswith("(n=50 vs 50)")


# --------------------------------------------------------------------------- report / plots


def test_plots_are_pngs(run_dir: Path, report_path: Path) -> None:
    pngs = sorted((run_dir / "plots").glob("*.png"))
    names = {p.stem for p in pngs}
    assert names == {
        "net_detection_heatmap",
        "detection_controls",
        "yes_bias",
        "thoughts_vs_text",
        "prefill",
        "intentional_control",
        "instruction_cosines",
    }
    for p in pngs:
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000


def test_report_is_escaped_and_self_contained(report_path: Path) -> None:
    text = report_path.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert html.escape(EVIL) in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;oceans&lt;/b&gt;" in text
    assert "<b>oceans</b>" not in text
    assert "&lt;i&gt;spec&lt;/i&gt;" in text and "SmolLM2-135M-Instruct &lt;gguf&gt;" in text
    # no external resources: every src is a data URI, no links to other sites
    assert not re.search(r'(src|href)\s*=\s*"(?!data:|#)', text)
    assert text.count('src="data:image/png;base64,') == 7  # 6 + the scorecard's instruction plot
    assert "introscope report — synthetic-run" in text
    assert "0.60 [" in text and "(n=50)" in text
    assert "carries information about the injected direction" in text


def test_render_summary(run_dir: Path) -> None:
    from rich.console import Console

    console = Console(record=True, width=200)
    render_summary(run_dir, console)
    out = console.export_text()
    assert "net detection success" in out and "0.50" in out


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
    assert "introscope report — synthetic-run" in proc.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in proc.stdout
    bad = [
        ln
        for ln in proc.stderr.splitlines()
        if "Uncaught" in ln or "CONSOLE" in ln or "Content Security Policy" in ln
    ]
    assert not bad, bad
