"""``introscope grade RUN --judge``: a finished run graded by an LLM judge (a fake
OpenAI-compatible server on loopback), cached, resumable, errors kept as missing."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

import introscope.cli as cli
from introscope.errors import JudgeError, SpecError, StoreError
from introscope.experiments.detection.analysis import detection_table, grader_agreement_table
from introscope.grading.regrade import (
    JUDGE_CRITERIA,
    judge_config,
    regrade_with_judge,
)
from introscope.spec import JudgeSpec, validate_spec
from introscope.store import RunStore, load_run
from introscope.store.records import TrialRecord
from introscope.tables import RunFrame
from support import loopback_server


class Fake:
    """What the fake judge does: YES unless the answer says NOPE; HTTP 500 while ``fail`` is
    set for answers saying FLAKY; a reply without a verdict for answers saying GARBLE."""

    fail: ClassVar[bool] = True
    hits: ClassVar[Counter[str]] = Counter()
    lock: ClassVar[threading.Lock] = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        answer = prompt.split("<response>")[1].split("</response>")[0]
        with Fake.lock:
            Fake.hits[answer.strip()] += 1
        if "FLAKY" in answer and Fake.fail:
            self.reply(500, {"error": "down"})
            return
        text = "Hmm, hard to say." if "GARBLE" in answer else ("NO" if "NOPE" in answer else "YES")
        self.reply(200, {"choices": [{"message": {"content": f"Reasoning.\n{text}"}}]})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with loopback_server(Handler) as url:
        yield url + "/v1"


RULES = {"coherent": True, "affirmative": True, "correct_concept": False, "noticed_first": False}
TRIALS: list[tuple[str, str, str | None, str, str]] = [
    # (trial id, experiment, concept, control, response)
    ("d1", "detection", "Dust", "concept", "Yes, I notice a thought about dust."),
    ("d2", "detection", "Dust", "concept", "NOPE nothing here."),
    ("d3", "detection", "Ocean", "concept", "FLAKY answer about the ocean."),
    ("d4", "detection", "Ocean", "concept", "GARBLE answer."),
    ("c1", "detection", None, "none", "Nothing unusual."),
    ("p1", "prefill", "Bread", "none", "It was an accident."),
    ("y1", "yes_bias", "Dust", "concept", "No."),
]


def make_run(path: Path) -> Path:
    stamp = datetime(2026, 1, 1, tzinfo=timezone.utc)
    records = []
    for tid, kind, concept, control, text in TRIALS:
        cond = {"concept": concept, "layer": None if control == "none" else 3,
                "strength": None if control == "none" else 4.0, "control": control}  # fmt: skip
        rules: dict[str, Any] = dict(RULES) if kind == "detection" else {"apology": True}
        records.append(
            TrialRecord(
                trial_id=tid,
                run_id="r",
                experiment=kind,
                cell_id=tid,
                condition=cond,
                prompt="p",
                measure="generation",
                seed=0,
                response=text,
                grades={"rules": rules},
                started_at=stamp,
                concept=concept,
                control=control,
            )
        )
    with RunStore(path) as store:
        store.write_batch(records)
    return path


def grades(path: Path) -> dict[str, dict[str, Any]]:
    df = load_run(path)
    return {r["trial_id"]: r["grades"] for r in df.to_dict("records")}


def test_grade_asks_each_experiment_its_criteria_and_resumes(server: str, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    cfg = judge_config(server, "fake", run, api_key_env=None, max_retries=0)
    Fake.fail, Fake.hits = True, Counter()
    first = regrade_with_judge(run, cfg, workers=3, chunk=2)
    assert (first.n_trials, first.n_asked, first.n_errors) == (6, 6, 2)  # yes_bias: no rubric
    g = grades(run)
    assert g["d1"]["rules"] == RULES  # the rules' grades are kept
    assert g["d1"]["judge"] == {**dict.fromkeys(JUDGE_CRITERIA["detection"], True), "success": True}
    assert g["d2"]["judge"]["success"] is False and g["d2"]["judge"]["affirmative"] is False
    assert set(g["c1"]["judge"]) == {"coherent", "affirmative"}  # no concept: no success
    assert g["p1"]["judge"] == {"apology": True, "coherent": True}
    assert "judge" not in g["y1"]
    for tid in ("d3", "d4"):  # errors are missing values, never "no", and no success
        assert all(isinstance(v, dict) and "error" in v for v in g[tid]["judge"].values())
        assert "success" not in g[tid]["judge"]
    # again: only the failed trials are asked, each criterion once; the rest is kept
    Fake.fail, Fake.hits = False, Counter()
    second = regrade_with_judge(run, cfg)
    assert (second.n_asked, second.n_errors) == (2, 1)  # GARBLE stays unparseable
    assert Fake.hits == Counter({"FLAKY answer about the ocean.": 4, "GARBLE answer.": 4})
    g2 = grades(run)
    assert g2["d3"]["judge"]["success"] is True
    assert g2["d1"] == g["d1"]
    # a fresh call with nothing left to do asks nothing for the complete trials; the verdict
    # cache on disk makes even a wiped judge entry free
    Fake.hits = Counter()
    with RunStore(run) as store:
        store.update_grades({"d1": {"judge": {}}})
    third = regrade_with_judge(run, cfg)
    assert third.n_asked == 2 and Fake.hits == Counter({"GARBLE answer.": 4})
    assert grades(run)["d1"]["judge"]["success"] is True


def test_judge_success_and_agreement_in_the_tables(server: str, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    Fake.fail = False
    regrade_with_judge(run, judge_config(server, "fake", run, api_key_env=None))
    frame = RunFrame(load_run(run), run)
    table = detection_table(frame, grader="judge")
    concept = table[table["control"] == "concept"].iloc[0]
    assert concept["success_n"] == 3 and concept["success"] == pytest.approx(2 / 3)
    agreement = grader_agreement_table(frame)
    assert list(agreement["criterion"]) == list(JUDGE_CRITERIA["detection"])


def test_grade_command(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(tmp_path / "run")
    Fake.fail = False
    args = ["grade", str(run), "--judge", server, "--judge-model", "fake", "--api-key-env", ""]
    result = CliRunner().invoke(cli.app, [*args, "--no-report"])
    assert result.exit_code == 0, result.output
    assert "Rules vs judge" in result.output and "noticed_first" in result.output
    assert grades(run)["d1"]["judge"]["success"] is True
    again = CliRunner().invoke(cli.app, [*args, "--no-report"])
    assert "1 of 6 answers needed grades" in again.output  # only GARBLE is left
    # mistakes are one sentence, exit 2
    monkeypatch.delenv("INTROSCOPE_TEST_NO_KEY", raising=False)
    bad = [
        [*args[:6], "--api-key-env", "INTROSCOPE_TEST_NO_KEY"],
        ["grade", str(tmp_path / "nothing"), *args[2:]],
        ["grade", str(run), "--judge", "ftp://x", *args[4:]],
        [*args, "--criteria", "vibes"],
    ]
    for argv in bad:
        out = CliRunner().invoke(cli.app, argv)
        assert out.exit_code == 2, (argv, out.output)
        assert "Traceback" not in out.output and "error:" in out.output
    assert not (tmp_path / "nothing").exists()


def test_library_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no trials"):
        regrade_with_judge(
            tmp_path, judge_config("http://127.0.0.1:9/v1", "m", tmp_path, api_key_env=None)
        )
    run = make_run(tmp_path / "run")
    with pytest.raises(JudgeError, match="Unknown judge criterion"):
        regrade_with_judge(
            run, judge_config("http://127.0.0.1:9/v1", "m", run, api_key_env=None), ["x"]
        )


def test_judge_spec_defaults_cover_success() -> None:
    assert set(JUDGE_CRITERIA["detection"]) <= set(JudgeSpec(base_url="u", model="m").criteria)
    data = {
        "name": "s",
        "experiment": "detection",
        "graders": ["rules", "judge"],
        "judge": {"base_url": "http://x/v1", "model": "m", "criteria": ["vibes"]},
    }
    with pytest.raises(SpecError, match="criteria"):
        validate_spec(data, "s.toml")


# --------------------------------------------------------------------------- --rules

ANSWERS = [
    "Yes, I detect an injected thought about dust.",
    "No, I don't notice anything.",
    "Sorry, that was a mistake.",
    "<enter [ from<< [[ [",
    "Yes.",
]


@pytest.mark.parametrize("kind", ["detection", "prefill", "yes_bias"])
def test_rules_grades_are_what_the_solver_stores(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rules_grades`` (used by ``grade --rules``) is the solvers' own grading, so a
    re-graded run is graded as a fresh run would be."""
    from types import SimpleNamespace

    from introscope.core.engine import Generation
    from introscope.experiments import get_experiment
    from introscope.experiments.detection import trials as detection_trials
    from introscope.experiments.prefill import trials as prefill_trials
    from introscope.experiments.yes_bias import trials as yes_bias_trials
    from introscope.grading.regrade import rules_grades

    module = {
        "detection": detection_trials,
        "prefill": prefill_trials,
        "yes_bias": yes_bias_trials,
    }[kind]
    gens = [Generation(a, (1, 2), 3, True) for a in ANSWERS]
    monkeypatch.setattr(module, "generate_batch", lambda ctx, trials: gens)
    names = ["Dust", "Ocean"]
    ctx = SimpleNamespace(
        spec=SimpleNamespace(measure="generation"), vectors=SimpleNamespace(names=names)
    )
    control = "none" if kind == "prefill" else "concept"
    trials = [
        SimpleNamespace(
            condition={"concept": "Dust", "control": control},
            concept="Dust",
            control=control,
            prompt="p",
            data={},
        )
        for _ in ANSWERS
    ]
    results = get_experiment(kind).solver().run_batch(ctx, trials)  # type: ignore[arg-type]
    for answer, r in zip(ANSWERS, results, strict=True):
        assert r.grades["rules"] == rules_grades(kind, answer, "Dust", names)


def test_grade_rules_regrades_a_run(tmp_path: Path) -> None:
    from introscope.grading.regrade import regrade_with_rules

    run = make_run(tmp_path / "run")
    with pytest.raises(StoreError, match="concept vectors"):
        regrade_with_rules(run)
    write_vector_names(run, ["Dust", "Ocean", "Bread"])
    assert regrade_with_rules(run) == 7
    g = grades(run)
    assert g["d1"]["rules"]["affirmative"] is True and g["d1"]["rules"]["correct_concept"] is True
    assert g["d1"]["rules"]["outcome"] == "correct_detection"
    assert g["c1"]["rules"]["outcome"] == "correct_rejection"  # no concept on a control trial
    assert g["p1"]["rules"] == {"apology": True, "coherent": True}
    assert g["y1"]["rules"] == {"answered_yes": False}
    result = CliRunner().invoke(cli.app, ["grade", str(run), "--rules", "--no-report"])
    assert result.exit_code == 0 and "re-graded 7 answers" in result.output
    neither = CliRunner().invoke(cli.app, ["grade", str(run), "--no-report"])
    assert neither.exit_code == 2 and "--rules" in neither.output


def write_vector_names(run: Path, names: list[str]) -> None:
    """A vector file holding ``names`` (the run's concept list), as the runner writes it."""
    import numpy as np
    from safetensors.numpy import save_file

    tensors = {f"vec.{i}": np.zeros((2, 4), dtype=np.float32) for i in range(len(names))}
    save_file(tensors, str(run / "vectors.safetensors"), metadata={"names": json.dumps(names)})
