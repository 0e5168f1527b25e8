"""Every table of a battery run is what the pre-reshape code computed from the same trials.

``tests/fixtures/battery_small`` holds a run written by commit 4a59cbe and every table,
headline row and scorecard line that commit computed from it (``tables.json``). The
reshaped slices must reproduce them. Differences are allowed only where a defect was fixed
on purpose; each is listed in ``CHANGED`` with the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from introscope.experiments import REGISTRY
from introscope.report.results import RunResults, headlines, load_results, scorecard_lines

FIXTURE = Path(__file__).parent.parent / "fixtures" / "battery_small"

#: "kind/table" (or "headline:NAME", "step:N:NAME") -> why its values changed.
CHANGED: dict[str, str] = {}

#: The metacognition suite came after the fixture run: its steps only say "not run" here.
NEWER_STEPS = {s for e in REGISTRY if e.scorecard_part == "metacognition" for s in e.steps}
FIXTURE_SLICES = [e for e in REGISTRY if e.scorecard_part != "metacognition"]


@pytest.fixture(scope="module")
def old() -> dict[str, Any]:
    return json.loads((FIXTURE / "tables.json").read_text())


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> RunResults:
    res = load_results(FIXTURE)
    assert not res.failures, res.failures
    return res


def cell(v: Any) -> Any:
    """A table cell in the fixture's JSON form."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) else (repr(f) if math.isinf(f) else f)
    if isinstance(v, (list, tuple)):
        return [cell(x) for x in v]
    if isinstance(v, dict):
        return {str(k): cell(x) for k, x in v.items()}
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if (isinstance(a, int) and isinstance(b, float)) or (
        isinstance(a, float) and isinstance(b, int)
    ):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def table_diff(new: pd.DataFrame, old: dict[str, Any]) -> list[str]:
    cols = [str(c) for c in new.columns] if len(new) else []
    if len(new) == 0 and not old["rows"]:
        return []
    problems = []
    if cols != old["columns"]:
        problems.append(f"columns {cols} != {old['columns']}")
        return problems
    rows = [[cell(x) for x in r] for r in new.itertuples(index=False)]
    if len(rows) != len(old["rows"]):
        return [f"{len(rows)} rows != {len(old['rows'])}"]
    for i, (a, b) in enumerate(zip(rows, old["rows"], strict=True)):
        for c, x, y in zip(cols, a, b, strict=True):
            if not same(x, y):
                problems.append(f"row {i} {c}: {x!r} != {y!r}")
    return problems


def test_every_fixture_table_is_reproduced(results: RunResults, old: dict[str, Any]) -> None:
    registered = {e.kind for e in REGISTRY}
    checked = 0
    problems: dict[str, list[str]] = {}
    for key, table in old["tables"].items():
        kind, name = key.split("/")
        if kind not in registered or key in CHANGED:
            continue
        new = results.tables[kind][name]
        diff = table_diff(new, table)
        if diff:
            problems[key] = diff[:5]
        checked += 1
    assert checked > 0
    assert not problems, json.dumps(problems, indent=1)


def test_confabulation_summary_is_reproduced(results: RunResults, old: dict[str, Any]) -> None:
    new = results.tables["detection"]["confabulation_summary"].iloc[0].to_dict()
    for k, v in old["confabulation_summary"].items():
        assert same(cell(new[k]), v), k


def test_headlines_are_reproduced(results: RunResults, old: dict[str, Any]) -> None:
    by_name = {ln["name"]: ln for ln in old["headlines"]}
    new = headlines(results)
    assert new
    for ln in new:
        if f"headline:{ln.name}" in CHANGED:
            continue
        o = by_name[ln.name]
        got = {k: cell(getattr(ln, k)) for k in ("estimate", "ci_low", "ci_high", "n", "sentence")}
        want = {k: o[k] for k in got}
        assert same(got, want), (ln.name, got, want)
    if len(FIXTURE_SLICES) == 9:  # every slice registered: the same rows in the same order
        assert [ln.name for ln in new] == [ln["name"] for ln in old["headlines"]]


def test_scorecard_is_reproduced(results: RunResults, old: dict[str, Any]) -> None:
    by_key = {(ln["step"], ln["name"]): ln for ln in old["scorecard"]}
    new = scorecard_lines(results)
    assert new
    new = [ln for ln in new if ln.step not in NEWER_STEPS]
    for ln in new:
        if f"step:{ln.step}:{ln.name}" in CHANGED:
            continue
        o = by_key[(ln.step, ln.name)]
        got = {
            k: cell(getattr(ln, k))
            for k in ("estimate", "ci_low", "ci_high", "n", "sentence", "available", "config")
        }
        want = {k: o[k] for k in got}
        assert same(got, want), (ln.step, ln.name, got, want)
    if len(FIXTURE_SLICES) == 9:
        assert [(ln.step, ln.name) for ln in new] == [
            (o["step"], o["name"]) for o in old["scorecard"]
        ]
