"""The judge inside a run: a plain-http endpoint on another machine is refused before
anything is written (unless --insecure-judge), retries and their pauses are capped, and the
trials whose judge grade was an error are graded again when the run is resumed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from introscope.cli import app
from introscope.core.models import LoadedModel
from introscope.errors import JudgeError
from introscope.grading import judge as judge_mod
from introscope.grading.judge import MAX_RETRIES, Judge, JudgeConfig
from introscope.runner import run_spec
from introscope.spec import Spec, validate_spec
from introscope.store import DB_NAME, load_run, read_manifest
from support import loopback_server


class Switchable(BaseHTTPRequestHandler):
    """HTTP 500 while ``down``, else a verdict of YES."""

    down = True
    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if type(self).down:
            status, body = 500, {"error": "down"}
        else:
            status, body = 200, {"choices": [{"message": {"content": "Clearly.\nYES"}}]}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def endpoint() -> Iterator[str]:
    with loopback_server(Switchable) as url:
        yield url + "/v1"


def judged_spec(base_url: str) -> Spec:
    return validate_spec(
        {
            "name": "judged",
            "experiment": "detection",
            "batch_size": 2,
            "graders": ["rules", "judge"],
            "grid": {"concepts": ["Ocean", "Dust"], "layers": [0.5], "strengths": [4.0]},
            "sampling": {"max_new_tokens": 4, "temperature": 0.0},
            "judge": {
                "base_url": base_url,
                "model": "j",
                "api_key_env": "",
                "criteria": ["affirmative"],
                "max_retries": 0,
            },
        },
        "judged",
    )


def test_plain_http_judge_on_another_machine_is_refused_first(
    lm: LoadedModel, tmp_path: Path
) -> None:
    spec = judged_spec("http://10.255.0.1:8001/v1")
    d = tmp_path / "run"
    with pytest.raises(JudgeError, match="--insecure-judge"):
        run_spec(spec, d, lm=lm)
    assert not d.exists()
    path = tmp_path / "spec.toml"
    path.write_text(
        'name = "j"\nexperiment = "detection"\ngraders = ["rules", "judge"]\n'
        '[judge]\nbase_url = "http://10.255.0.1/v1"\nmodel = "j"\napi_key_env = ""\n'
    )
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(d)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "plain http" in lines[0], res.stderr
    assert not d.exists()


def test_retries_and_pauses_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(judge_mod.time, "sleep", pauses.append)
    Switchable.down, Switchable.hits = True, 0
    with endpoint() as url:
        cfg = JudgeConfig(url, "j", api_key_env=None, max_retries=50, backoff_s=5, max_backoff_s=7)
        with Judge(cfg) as judge:
            res = judge.grade("I notice something.", "affirmative")
    assert res.value is None and f"gave up after {1 + MAX_RETRIES} attempts" in str(res.error)
    assert Switchable.hits == 1 + MAX_RETRIES
    assert pauses[:2] == [5, 7] and max(pauses) == 7 and len(pauses) == MAX_RETRIES


@pytest.mark.slow
def test_judge_errors_are_graded_again_on_resume(lm: LoadedModel, tmp_path: Path) -> None:
    d = tmp_path / "run"
    Switchable.down, Switchable.hits = True, 0
    with endpoint() as url:
        spec = judged_spec(url)
        first = run_spec(spec, d, lm=lm)
        assert first.n_new == 2
        grades = [g["judge"]["affirmative"] for g in load_run(d)["grades"]]
        assert all(isinstance(g, dict) and "HTTP 500" in g["error"] for g in grades)

        Switchable.down = False  # the endpoint is back
        again = run_spec(spec, d, lm=lm)
        assert again.n_new == 0 and again.regraded == 2
        rows = load_run(d)
        assert [g["judge"]["affirmative"] for g in rows["grades"]] == [True, True]
        assert all("rules" in g for g in rows["grades"])  # the other graders are kept
        assert read_manifest(d)["status"] == "complete"

        hits = Switchable.hits
        assert run_spec(spec, d, lm=lm).regraded == 0  # nothing left to grade again
        assert Switchable.hits == hits
    assert (d / DB_NAME).exists() and (d / "judge_cache.jsonl").read_text().count("\n") == 2
