"""The runner: kill-and-resume (SIGKILL, real subprocess), determinism, batch-size
independence, spec identity of a run directory, every experiment's row contract, and the
LLM judge inside a run (a real served model that answers prose, and an endpoint that fails).

Every run gets the same pre-built ``vectors.safetensors`` copied into its directory (the
runner reuses the file it finds there, exactly as on resume), so no test pays for building
concept vectors more than once.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import torch

from introscope import runner
from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.vectors import concept_vectors, save_vectors
from introscope.errors import JudgeError, StoreError
from introscope.runner import run_spec
from introscope.spec import Spec, validate_spec
from introscope.store import DB_NAME, RunStore, load_run, read_manifest
from support import loopback_server

pytestmark = pytest.mark.slow

WORDS = ["Ocean", "Dust", "Bread"]
TIMING = ["started_at", "duration_s"]
#: Columns that legitimately differ between runs of specs that differ only in batch_size.
BATCHING = [*TIMING, "batch_index", "run_id"]

DET_TOML = """
name = "det"
experiment = "detection"
measure = "generation"
control_trials = 2
batch_size = 2
seed = 3
[grid]
concepts = ["Ocean", "Dust", "Bread"]
layers = [0.5]
strengths = [4.0]
controls = ["concept", "random"]
[sampling]
max_new_tokens = 6
temperature = 1.0
"""
DET_TOTAL = 2 + 3 * 2


def _det_data() -> dict[str, Any]:
    import tomllib

    return tomllib.loads(DET_TOML)


def make_spec(**changes: Any) -> Spec:
    """The detection spec above with top-level / nested overrides (``grid={...}``)."""
    data = _det_data()
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return validate_spec(data, "test spec")


@pytest.fixture(scope="module")
def vec_file(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vectors") / "vectors.safetensors"
    save_vectors(concept_vectors(engine, WORDS), path)
    return path


@pytest.fixture(scope="module")
def fresh_dir(vec_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``fresh_dir(name)``: a new run directory seeded with the shared vectors."""

    def make(name: str) -> Path:
        d = tmp_path_factory.mktemp(name)
        shutil.copy(vec_file, d / "vectors.safetensors")
        return d

    return make


def run_to_frame(spec: Spec, lm: LoadedModel, fresh_dir: Any, name: str) -> pd.DataFrame:
    d = fresh_dir(name)
    result = run_spec(spec, d, lm=lm)
    assert not result.already_complete and result.n_new == result.n_trials
    assert read_manifest(d)["status"] == "complete"
    return load_run(d)


@pytest.fixture(scope="module")
def ref(lm: LoadedModel, fresh_dir: Any) -> tuple[Path, pd.DataFrame]:
    """An uninterrupted in-process run of the detection spec (temperature 1)."""
    d = fresh_dir("ref")
    run_spec(make_spec(), d, lm=lm)
    return d, load_run(d)


def comparable(df: pd.DataFrame, drop: list[str]) -> pd.DataFrame:
    """The frame without ``drop`` columns, JSON columns as canonical text, sorted by id."""
    out = df.drop(columns=drop).sort_values("trial_id").reset_index(drop=True)
    for col in ("condition", "injection", "logits", "grades"):
        out[col] = [json.dumps(v, sort_keys=True) for v in out[col]]
    return out


def assert_same_runs(a: pd.DataFrame, b: pd.DataFrame, drop: list[str]) -> None:
    assert a["trial_id"].is_unique and b["trial_id"].is_unique
    assert set(a["trial_id"]) == set(b["trial_id"])
    pd.testing.assert_frame_equal(comparable(a, drop), comparable(b, drop))


# --------------------------------------------------------------------------- kill and resume


def _count_copy(run_dir: Path, scratch: Path) -> int:
    """Rows in a copy of the run database (the writer holds DuckDB's file lock)."""
    db = run_dir / DB_NAME
    if not db.exists():
        return 0
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    for src in (db, run_dir / (DB_NAME + ".wal")):
        if src.exists():
            shutil.copy(src, scratch / src.name)
    try:
        con = duckdb.connect(str(scratch / DB_NAME))
        try:
            row = con.execute("SELECT count(*) FROM trials").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return 0  # torn copy or table not created yet: try again
    return int(row[0]) if row else 0


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    # Same intra-op threads as this process, so both compute bit-identical floats.
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    env.pop("INTROSCOPE_DEBUG", None)
    return env


def test_sigkill_then_resume_equals_uninterrupted(
    lm: LoadedModel,
    fresh_dir: Any,
    ref: tuple[Path, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec_path = tmp_path / "det.toml"
    spec_path.write_text(DET_TOML)
    out = fresh_dir("killed")
    cmd = [
        sys.executable,
        "-m",
        "introscope.cli",
        "run",
        str(spec_path),
        "--out",
        str(out),
        "--no-report",
    ]
    proc = subprocess.Popen(cmd, env=_cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    seen = 0
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            seen = _count_copy(out, tmp_path / "scratch")
            if seen > 0:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None and seen == 0:
            proc.kill()
        proc.wait(timeout=60)
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
    assert seen > 0, f"no batch landed before the run ended (rc={proc.returncode}): {err}"
    assert proc.returncode == -signal.SIGKILL, f"the run finished before it was killed: {err}"

    # Only whole batches of 2 are stored; the run is marked unfinished.
    with RunStore(out, read_only=True) as store:
        n_killed = store.count()
    assert 0 < n_killed < DET_TOTAL
    assert n_killed % 2 == 0
    assert read_manifest(out)["status"] == "running"

    # Restart the same command (in-process, with the already loaded model) to completion.
    from typer.testing import CliRunner

    from introscope.cli import app

    monkeypatch.setattr(runner, "load_model", lambda *a, **k: lm)
    done = CliRunner().invoke(app, cmd[3:])
    assert done.exit_code == 0, done.output
    assert "Traceback" not in done.output
    assert f"Ran {DET_TOTAL - n_killed} trials" in " ".join(done.output.split())
    assert read_manifest(out)["status"] == "complete"

    resumed = load_run(out)
    assert len(resumed) == DET_TOTAL
    assert_same_runs(resumed, ref[1], TIMING)  # batch_index included: batches are fixed

    # Running the finished run again: "nothing to do", and nothing changes.
    manifest_before = (out / "manifest.json").read_bytes()
    res = CliRunner().invoke(app, cmd[3:])
    assert res.exit_code == 0, res.output
    assert "nothing to do" in " ".join(res.output.split())
    assert (out / "manifest.json").read_bytes() == manifest_before
    again = load_run(out)
    pd.testing.assert_frame_equal(
        again.sort_values("trial_id").reset_index(drop=True).astype(str),
        resumed.sort_values("trial_id").reset_index(drop=True).astype(str),
    )


# --------------------------------------------------------------------------- determinism


def test_same_spec_same_store(lm: LoadedModel, fresh_dir: Any, ref: tuple[Path, Any]) -> None:
    df = run_to_frame(make_spec(), lm, fresh_dir, "again")
    assert len(df) == DET_TOTAL
    assert df["seed"].is_unique  # per-trial seeds
    assert_same_runs(df, ref[1], TIMING)


def test_sampled_batch_size_does_not_change_outcomes(
    lm: LoadedModel, fresh_dir: Any, ref: tuple[Path, Any]
) -> None:
    df = run_to_frame(make_spec(batch_size=4), lm, fresh_dir, "bs4")
    assert_same_runs(df, ref[1], BATCHING)


def test_greedy_generation_batch_size_invariant(lm: LoadedModel, fresh_dir: Any) -> None:
    frames = [
        run_to_frame(
            make_spec(
                batch_size=bs,
                control_trials=1,
                grid={"concepts": ["Ocean", "Dust"], "controls": ["concept"]},
                sampling={"temperature": 0.0},
            ),
            lm,
            fresh_dir,
            f"greedy{bs}",
        )
        for bs in (1, 4)
    ]
    assert len(frames[0]) == 3
    assert frames[0]["batch_index"].tolist() != frames[1]["batch_index"].tolist()
    assert_same_runs(frames[0], frames[1], BATCHING)


@pytest.fixture(scope="module")
def logits_runs(lm: LoadedModel, fresh_dir: Any) -> dict[int, pd.DataFrame]:
    return {
        bs: run_to_frame(
            make_spec(
                measure="logits",
                batch_size=bs,
                control_trials=1,
                grid={"concepts": ["Ocean", "Dust"], "controls": ["concept"]},
            ),
            lm,
            fresh_dir,
            f"logits{bs}",
        )
        for bs in (1, 4)
    }


def test_logits_batch_size_invariant(logits_runs: dict[int, pd.DataFrame]) -> None:
    a, b = (comparable(logits_runs[bs], BATCHING) for bs in (1, 4))
    assert len(a) == 1 + 2
    pd.testing.assert_frame_equal(a.drop(columns="logits"), b.drop(columns="logits"))
    for la, lb in zip(a["logits"], b["logits"], strict=True):
        x, y = json.loads(la), json.loads(lb)
        assert x["concept_rank"] == y["concept_rank"]
        assert x["n_candidates"] == y["n_candidates"]
        assert x["p_yes"] == pytest.approx(y["p_yes"], abs=1e-5)


def test_run_dir_of_other_spec_is_refused(lm: LoadedModel, ref: tuple[Path, Any]) -> None:
    run_dir, df = ref
    before = (run_dir / "manifest.json").read_bytes()
    with pytest.raises(StoreError, match="already holds a run of different specs") as exc:
        run_spec(make_spec(seed=99), run_dir, lm=lm)
    assert "det" in str(exc.value) and "--out" in str(exc.value)
    other_name = validate_spec({**_det_data(), "name": "other"}, "s")
    with pytest.raises(StoreError, match="different specs"):
        run_spec(other_name, run_dir, lm=lm)
    assert (run_dir / "manifest.json").read_bytes() == before
    assert len(load_run(run_dir)) == len(df)


# --------------------------------------------------------------------------- row contracts


def _is_prob(x: Any) -> bool:
    return isinstance(x, float) and 0.0 <= x <= 1.0 and math.isfinite(x)


RULES_DETECTION = {
    "coherent",
    "affirmative",
    "correct_concept",
    "noticed_first",
    "success",
    "outcome",
    "reported",
}


def test_detection_generation_rows(ref: tuple[Path, pd.DataFrame]) -> None:
    df = ref[1]
    assert set(df["experiment"]) == {"detection"} and set(df["measure"]) == {"generation"}
    assert sorted(df["control"].value_counts().items()) == [
        ("concept", 3),
        ("none", 2),
        ("random", 3),
    ]
    for _, r in df.iterrows():
        assert isinstance(r["response"], str) and 0 <= r["n_response_tokens"] <= 6
        assert r["n_prompt_tokens"] > 0
        if r["control"] == "none":  # the residual norm an injection would be added to
            assert set(r["logits"]) == {"resid_norm"} and r["logits"]["resid_norm"]["14"] > 0
        else:
            assert r["logits"] is None
        rules = r["grades"]["rules"]
        assert set(rules) >= RULES_DETECTION
        assert all(isinstance(rules[k], bool) for k in RULES_DETECTION - {"outcome", "reported"})
        assert rules["success"] == (
            rules["coherent"]
            and rules["affirmative"]
            and rules["correct_concept"]
            and rules["noticed_first"]
        )
        if r["control"] == "none":
            assert r["injection"] is None and pd.isna(r["layer"]) and pd.isna(r["concept"])
        else:
            assert r["layer"] == 14 and r["strength"] == 4.0 and r["concept"] in WORDS
            assert r["injection"]["layers"] == [14]
            assert r["injection"]["vector_norm"] > 0
    # random control vectors are norm-matched to the concept's vector
    inj = {
        (r["concept"], r["control"]): r["injection"]
        for _, r in df.iterrows()
        if r["control"] != "none"
    }
    for w in WORDS:
        assert inj[(w, "random")]["vector_norm"] == pytest.approx(
            inj[(w, "concept")]["vector_norm"], rel=1e-4
        )


def test_detection_logits_rows(logits_runs: dict[int, pd.DataFrame]) -> None:
    df = logits_runs[4]
    assert set(df["measure"]) == {"logits"}
    for _, r in df.iterrows():
        lg = r["logits"]
        assert r["response"] is None and {"p_yes", "concept_rank", "n_candidates"} <= set(lg)
        assert _is_prob(lg["p_yes"]) and lg["n_candidates"] == len(WORDS)
        if r["control"] == "none":
            assert lg["concept_rank"] is None and lg["resid_norm"]["14"] > 0
        else:
            assert lg["concept_rank"] in (1, 2, 3)


def _tiny(name: str, experiment: str, **extra: Any) -> Spec:
    data: dict[str, Any] = {
        "name": name,
        "experiment": experiment,
        "batch_size": 8,
        "grid": {"concepts": ["Ocean", "Dust"], "layers": [0.5], "strengths": [4.0]},
        "sampling": {"max_new_tokens": 6, "temperature": 0.0},
    }
    for key, value in extra.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return validate_spec(data, name)


def test_thoughts_vs_text_rows(lm: LoadedModel, fresh_dir: Any) -> None:
    spec = _tiny(
        "tvt", "thoughts_vs_text", grid={"concepts": ["Dust"], "controls": ["concept", "none"]}
    )
    df = run_to_frame(spec, lm, fresh_dir, "tvt")
    assert len(df) == 2
    for _, r in df.iterrows():
        lg, rules = r["logits"], r["grades"]["rules"]
        assert {"candidate_rank", "n_candidates", "chosen"} <= set(lg)
        assert lg["n_candidates"] == 10 and 1 <= lg["candidate_rank"] <= 10
        assert isinstance(lg["chosen"], str)
        assert {"identified", "exact_match"} <= set(rules)
        assert rules["identified"] == (lg["candidate_rank"] == 1)
        assert isinstance(r["response"], str) and isinstance(rules["exact_match"], bool)
        assert (r["injection"] is None) == (r["control"] == "none")
        assert r["condition"]["sentence_id"] >= 0


def test_prefill_rows(lm: LoadedModel, fresh_dir: Any) -> None:
    df = run_to_frame(_tiny("pre", "prefill"), lm, fresh_dir, "pre")
    assert sorted(df["control"].value_counts().items()) == [("match", 2), ("none", 2), ("other", 2)]
    for _, r in df.iterrows():
        c = r["condition"]
        assert c["injected"] in ("none", "match", "other") and c["word"] in ("Ocean", "Dust")
        assert {"apology", "coherent"} <= set(r["grades"]["rules"])
        assert all(isinstance(r["grades"]["rules"][k], bool) for k in ("apology", "coherent"))
        assert isinstance(r["response"], str)
        if c["injected"] == "match":
            assert c["inject_concept"] == c["word"]
        elif c["injected"] == "other":
            assert c["inject_concept"] not in (None, c["word"])
        else:
            assert r["injection"] is None and c["inject_concept"] is None


# --------------------------------------------------------------------------- judge in a run


@contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


class _Fail500(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"error": "boom"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def _http500() -> Iterator[str]:
    with loopback_server(_Fail500) as url:
        yield url + "/v1"


def _judge_spec(name: str, base_url: str, **judge: Any) -> Spec:
    return make_spec(
        name=name,
        control_trials=0,
        graders=["rules", "judge"],
        grid={"concepts": ["Ocean", "Dust"], "controls": ["concept"]},
        sampling={"max_new_tokens": 4},
        judge={
            "base_url": base_url,
            "model": "judge",
            "api_key_env": "",
            "timeout_s": 20,
            "max_retries": 0,
            **judge,
        },
    )


def _check_judge_errors(df: pd.DataFrame, criteria: list[str], words: str) -> None:
    assert len(df) == 2
    for _, r in df.iterrows():
        assert set(r["grades"]["rules"]) >= RULES_DETECTION
        judge = r["grades"]["judge"]
        assert set(judge) == set(criteria)
        for value in judge.values():
            assert isinstance(value, dict) and set(value) == {"error"}, value
            assert words in value["error"]


def test_judge_failures_are_recorded_as_errors(
    lm: LoadedModel, fresh_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from introscope.grading import judge as judge_mod
    from introscope.serve import create_app

    monkeypatch.delenv("INTROSCOPE_JUDGE_API_KEY", raising=False)
    # The bundled model as the judge: keep its replies short (prose, never a lone YES/NO).
    monkeypatch.setattr(
        judge_mod, "JudgeConfig", functools.partial(judge_mod.JudgeConfig, max_tokens=6)
    )
    with _uvicorn(create_app(lm, model_name="judge")) as url:
        d = fresh_dir("judge_served")
        run_spec(_judge_spec("js", url, criteria=["affirmative"]), d, lm=lm)
    _check_judge_errors(load_run(d), ["affirmative"], "could not parse")
    cache = d / "judge_cache.jsonl"
    assert not cache.exists() or cache.read_text().strip() == ""  # errors are never cached

    _Fail500.hits = 0
    with _http500() as url:
        d = fresh_dir("judge_500")
        result = run_spec(_judge_spec("j500", url), d, lm=lm)
    assert result.n_new == 2 and read_manifest(d)["status"] == "complete"
    # The default criteria are detection's four (issue 10: with two, judge success was
    # always missing); errors leave every one missing and no success.
    detection = ["coherent", "affirmative", "correct_concept", "noticed_first"]
    _check_judge_errors(load_run(d), detection, "HTTP 500")
    assert _Fail500.hits == 2 * 4  # max_retries = 0: one request per trial and criterion


def test_judge_missing_key_fails_before_any_trial(
    lm: LoadedModel, fresh_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTROSCOPE_TEST_UNSET_API_KEY", raising=False)
    spec = _judge_spec("jkey", "http://127.0.0.1:9/v1", api_key_env="INTROSCOPE_TEST_UNSET_API_KEY")
    d = fresh_dir("judge_key")
    with pytest.raises(JudgeError, match="INTROSCOPE_TEST_UNSET_API_KEY"):
        run_spec(spec, d, lm=lm)
    assert not (d / DB_NAME).exists() and not (d / "manifest.json").exists()
    # the default variable name is checked the same way
    monkeypatch.delenv("INTROSCOPE_JUDGE_API_KEY", raising=False)
    data = _judge_spec("jdef", "http://127.0.0.1:9/v1").model_dump(mode="json")
    del data["judge"]["api_key_env"]
    with pytest.raises(JudgeError, match="INTROSCOPE_JUDGE_API_KEY"):
        run_spec(validate_spec(data, "s"), d, lm=lm)
