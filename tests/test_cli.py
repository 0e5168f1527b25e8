"""The command line: every user mistake is one "error:" line on stderr, a non-zero exit and
no traceback; the happy paths print the documented JSON.

Most cases run in-process with typer's CliRunner and the session's already loaded model;
a few real subprocesses (``python -m introscope.cli``) prove the real entry point behaves
the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import introscope.cli as cli
from introscope.core.models import LoadedModel
from introscope.core.vectors import VectorSet, save_vectors


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    env.pop("INTROSCOPE_DEBUG", None)
    return env


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "introscope.cli", *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
    )


def assert_one_error_line(stderr: str, stdout: str = "", *words: str) -> None:
    assert "Traceback" not in stderr + stdout
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    for w in words:
        assert w in lines[0], lines[0]


# --------------------------------------------------------------------------- real subprocesses


def test_subprocess_run_bad_spec(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('name = "x"\nexperiment = "detection"\n[grid]\nfoo = 1\n')
    proc = run_cli("run", str(spec), "--out", str(tmp_path / "out"), "--no-report")
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, proc.stdout, str(spec), "grid.foo", "unknown key")
    assert not (tmp_path / "out").exists()


def test_subprocess_serve_missing_vector_dir(tmp_path: Path) -> None:
    proc = run_cli("serve", "--vector-dir", str(tmp_path / "nope"), timeout=60)
    assert proc.returncode != 0
    assert_one_error_line(proc.stderr, proc.stdout, "--vector-dir", "not a directory")


@pytest.mark.slow
def test_subprocess_models_json() -> None:
    proc = run_cli("models", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["n_layers"] == 30 and info["hidden_size"] == 576
    assert info["spec"] == "bundled" and info["weights_hash"]


# --------------------------------------------------------------------------- in-process


@pytest.fixture(scope="module")
def vec_path(lm: LoadedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid vector file for the bundled model (random directions: cheap to make)."""
    gen = torch.Generator().manual_seed(0)
    vs = VectorSet(
        {"Ocean": torch.randn(lm.n_layers, lm.hidden_size, generator=gen)},
        lm.info.spec,
        lm.info.weights_hash,
        lm.hidden_size,
        lm.n_layers,
        "test",
    )
    return save_vectors(vs, tmp_path_factory.mktemp("vec") / "v.safetensors")


@pytest.fixture
def invoke(lm: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``invoke(*args)`` runs the CLI in-process with the session's model."""
    from introscope import runner

    monkeypatch.setattr(cli, "_load", lambda *a, **k: lm)
    monkeypatch.setattr(runner, "load_model", lambda *a, **k: lm)
    monkeypatch.delenv("INTROSCOPE_DEBUG", raising=False)

    def call(*args: str) -> Any:
        return CliRunner().invoke(cli.app, list(args))

    return call


def assert_cli_error(result: Any, *words: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert_one_error_line(result.stderr, result.stdout, *words)


def test_unknown_model_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("INTROSCOPE_DEBUG", raising=False)
    result = CliRunner().invoke(cli.app, ["models", "no-such-org/no-such-model-xyz", "--json"])
    assert_cli_error(result, "no-such-org/no-such-model-xyz")
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--layer", "99"], ["99", "out of range"]),
        (["--layer", "-31"], ["-31"]),
        (["--layer", "1.5"], ["1.5"]),
        (["--layer", "middle"], ["middle"]),
        (["--window", "bogus:1"], ["bogus:1"]),
        (["--window", "from:NOT-IN-PROMPT"], ["NOT-IN-PROMPT"]),
        (["--strength", "nan"], ["nan", "finite"]),
        (["--strength", "inf"], ["inf", "finite"]),
        (["--mode", "zap"], ["zap"]),
    ],
)
def test_steer_bad_inputs(invoke: Any, vec_path: Path, extra: list[str], words: list[str]) -> None:
    result = invoke("steer", "Hi", "--vector", str(vec_path), "--max-new-tokens", "2", *extra)
    assert_cli_error(result, *words)


def test_steer_vector_problems(invoke: Any, vec_path: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.safetensors"
    assert_cli_error(invoke("steer", "Hi", "--vector", str(missing)), str(missing))
    assert_cli_error(invoke("steer", "Hi", "--vector", f"{vec_path}:Nope"), "Nope")
    assert_cli_error(invoke("steer", "Hi"), "--concept")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    assert_cli_error(invoke("steer", "Hi", "--vector", str(junk)))
    assert_cli_error(invoke("vectors", "show", str(missing)), str(missing))


def test_run_bad_inputs(invoke: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nexperiment = "detection"\nbatch_size = 0\n')
    out = tmp_path / "out"
    assert_cli_error(invoke("run", str(bad), "--out", str(out)), str(bad), "batch_size")
    bad.write_text("name = [\n")
    assert_cli_error(invoke("run", str(bad), "--out", str(out)), "not valid TOML")
    assert_cli_error(
        invoke("run", "no_such_preset", "--out", str(out)), "no_such_preset", "detection_logits"
    )
    assert_cli_error(invoke("run", "battery", "--out", str(out)), "introscope battery")
    assert_cli_error(invoke("run", str(tmp_path / "nope.toml"), "--out", str(out)), "nope.toml")
    assert_cli_error(
        invoke("run", "detection", "--out", str(out), "--strengths", "a,b"), "--strengths"
    )
    assert_cli_error(invoke("run", "detection", "--out", str(out), "--strengths", "nan"), "finite")
    assert_cli_error(
        invoke(
            "run",
            "detection",
            "--out",
            str(out),
            "--layers",
            "99",
            "--concepts",
            "Ocean",
            "--control-trials",
            "0",
        ),
        "99",
    )
    assert_cli_error(invoke("battery", "--out", str(out), "--scale", "0"), "--scale")
    assert_cli_error(invoke("battery", "--out", str(out), "--only", "nope"), "nope")
    assert not out.exists()  # nothing was created for any of these mistakes


def test_export_and_report_of_non_run(invoke: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "missing"
    for cmd in ("export", "report"):
        assert_cli_error(invoke(cmd, str(empty)), str(empty), "not an introscope run")
        assert_cli_error(invoke(cmd, str(missing)), str(missing))
    assert list(empty.iterdir()) == []
    assert not missing.exists()  # a typo must not create a directory
    assert_cli_error(invoke("export", str(empty), "--format", "xml"), "xml")


def test_vectors_build_needs_words(invoke: Any, tmp_path: Path) -> None:
    out = tmp_path / "v.safetensors"
    assert_cli_error(invoke("vectors", "build", "--out", str(out)), "--words")
    assert_cli_error(invoke("vectors", "build", "--out", str(out), "--words", " , "), "--words")
    assert_cli_error(invoke("vectors", "build", "--out", str(out), "--category", "bogus"), "bogus")
    assert_cli_error(
        invoke("vectors", "build", "--out", str(out), "--words", "Ocean", "--template", "x"),
        "{word}",
    )
    assert not out.exists()


@pytest.mark.slow
def test_steer_json_happy_path(invoke: Any) -> None:
    result = invoke(
        "steer",
        "Hi",
        "--concept",
        "Ocean",
        "--layer",
        "0.5",
        "--strength",
        "4",
        "--max-new-tokens",
        "8",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"unsteered", "steered", "injection"} <= set(data)
    assert isinstance(data["unsteered"], str) and isinstance(data["steered"], str)
    inj = data["injection"]
    assert inj["layer"] == 14 and inj["layers"] == [14]
    assert inj["vector_norm"] > 0 and inj["vector"] == "Ocean"
    assert data["model"]["n_layers"] == 30


def test_experiments_lists_the_registry() -> None:
    import json

    from typer.testing import CliRunner

    from introscope.cli import app
    from introscope.experiments import REGISTRY

    out = CliRunner().invoke(app, ["experiments", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["kind"] for r in rows] == [e.kind for e in REGISTRY]
    det = next(r for r in rows if r["kind"] == "detection")
    assert "detection_logits" in det["presets"] and det["battery_parts"]
