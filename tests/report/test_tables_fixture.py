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
from introscope.experiments.eval_framing.scorecard import STEPS as EVAL_FRAMING_STEPS
from introscope.report.results import RunResults, headlines, load_results, scorecard_lines

FIXTURE = Path(__file__).parent.parent / "fixtures" / "battery_small"

YES_BIAS_PROTOCOL_2 = (
    "issue 10 defect 1: the yes-bias control is now in log-odds, asked in the detection "
    "frame with 'yes'- and 'no'-answer questions, concepts x questions crossed and paired per "
    "concept (yes_bias protocol 2); the fixture's yes-bias trials are protocol 1, which the "
    "analysis leaves out (counted in yes_bias_summary) and step 3 says so"
)
_EC50 = (
    "issue 10 defect 9: a logistic dose-response in log2(strength) with its EC50 and a "
    "concept-bootstrap CI replaces the lowest-passing-strength scan"
)
_TVT = (
    "issue 10 defect 11: identification is compared with the no-injection control, paired per "
    "concept (t CI over concepts), not with nominal chance or an unpaired Newcombe interval"
)
_CATEGORIES = ("abstract_nouns", "concrete_nouns", "famous_people", "countries", "verbs")

#: "kind/table" (or "headline:NAME", "step:N:NAME") -> why its values changed. A headline or
#: scorecard line listed here may also be new (it has no fixture row to compare with).
CHANGED: dict[str, str] = {
    "category_thresholds/category_thresholds": _EC50,
    "category_thresholds/thresholds": _EC50 + " (the per-strength differences keep their CIs; "
    "the passes/threshold columns of the scan are gone, relative_strength is added)",
    "thoughts_vs_text/thoughts_vs_text": _TVT,
    "headline:thoughts vs text: identification vs no injection": _TVT,
    "headline:prefill: match - other apology (coherent answers)": (
        "issue 10 defect 10: match - other at the same configuration, on coherent answers, "
        "the other vector rescaled to the prefilled word's norm (new headline)"
    ),
    **{f"headline:ec50/{c}/L14": _EC50 for c in _CATEGORIES},
    **{f"step:9:ec50/{c}/L14": _EC50 for c in _CATEGORIES},
    "step:2:net detection across wordings": "new line: detection under other wordings and "
    "injection windows (issue 10 defect 12); the fixture run has none, so it reads 'Not run'",
    "step:5:identification minus neutral frame (leakage control)": "new line: identification "
    "in the detection frame minus a neutral frame under the same injection (issue 10 defect "
    "3); the fixture run predates the neutral readout, so it reads 'Not run'",
    "step:5:identification minus neutral frame (earlier-turn injection)": "new line: the same "
    "contrast with the injection on an earlier turn only (issue 10 defect 3, internality); "
    "'Not run' on the fixture run",
    "step:0:steering check (concept − random log-prob of the concept word)": "issue 10 defect "
    "8: the positive control is a new step 0 (not run in the fixture: no steering-check trials)",
    "step:4:other-concept-vector net detection": "issue 10 defect 7: a new anomaly control "
    "(not run in the fixture)",
    "step:4:matched-random-vector net detection": "issue 10 defect 7: a new anomaly control "
    "(not run in the fixture)",
    "yes_bias/yes_bias": YES_BIAS_PROTOCOL_2,
    "yes_bias/yes_bias_generation": YES_BIAS_PROTOCOL_2,
    "headline:bias-corrected detection (logits)": YES_BIAS_PROTOCOL_2,
    "headline:detection vs yes-bias shift (r)": YES_BIAS_PROTOCOL_2,
    "step:3:bias-corrected detection (detection shift minus yes-bias shift)": YES_BIAS_PROTOCOL_2,
    "step:3:bias-corrected detection": YES_BIAS_PROTOCOL_2,
    **{
        f"step:{step}:{title}": "issue 13: the evaluation-framing part (not run in the fixture)"
        for step, title in EVAL_FRAMING_STEPS.items()
    },
}

#: Headline / scorecard line names of the fixture that are no longer computed -> why.
REMOVED: dict[str, str] = {
    "headline:thoughts vs text: identification above chance": _TVT,
    **{f"headline:threshold/{c}/L14": _EC50 for c in _CATEGORIES},
    **{f"step:9:threshold/{c}/L14": _EC50 for c in _CATEGORIES},
}

_NATURAL = (
    "issue 10 defect 4: the sentence names where the activation was read (the fixture read "
    "the last prompt token, whose logits give the report: a logit-lens identity)"
)
_LARGEST_DROP = "issue 10 defect 10: the most negative change is called the largest drop"

#: "kind/table" -> (columns whose values changed, why); the table's other columns are still
#: compared.
CHANGED_COLUMNS: dict[str, tuple[tuple[str, ...], str]] = {
    "detection/detection_logits": (
        ("p_yes_shift_ci_low", "p_yes_shift_ci_high"),
        "issue 10 defect 6: the no-injection logit readout is one deterministic trial, so the "
        "shift's interval is a one-sample t interval over concepts against that constant "
        "instead of a Welch interval undefined with one control trial",
    ),
}

#: Headline / scorecard line names whose sentence may differ (their numbers are still
#: compared) -> why.
SENTENCE_CHANGED: dict[str, str] = {
    "random-vector net detection": "issue 10 defect 7: says whether the control's KL on a "
    "neutral prompt matches the concept vector's (here: not measured)",
    "negated-vector net detection": "issue 10 defect 7: says whether the control's KL on a "
    "neutral prompt matches the concept vector's (here: not measured)",
    "mismatch: congruent - incongruent P(yes) (concept)": "quotes the permutation p-value",
    "mismatch: congruent - incongruent P(yes) (random)": "quotes the permutation p-value",
    "prefill: apology change (match)": _LARGEST_DROP,
    "prefill: apology change (other)": _LARGEST_DROP,
    "natural states: report ~ projection | template (log-prob)": _NATURAL,
    "natural states: concept vs distractor projection": _NATURAL,
}

#: "kind/table" -> (columns appended to the fixture's, why); every other column is compared.
ADDED: dict[str, tuple[tuple[str, ...], str]] = {
    "natural_states/natural_states": (("read_at",), _NATURAL),
    "natural_states/projection_check": (("read_at",), _NATURAL),
    "category_thresholds/concept_effects": (
        ("vector_norm", "relative_strength"),
        "issue 10 defect 9: strengths also as |s·v|/|h| (empty here: the fixture run did not "
        "measure the residual norm)",
    ),
}

#: Lines built on a rule-grader criterion whose agreement with the hand labels is below
#: target (issue 10, "A grader you can trust"): the old sentence followed by a "Low trust"
#: note, and the line's ``low_trust`` flag set. Everything else about them is unchanged.
LOW_TRUST: frozenset[str] = frozenset(
    {
        "net detection claim (concept)",
        "net detection claim (random control)",
        "net detection claim (negated control)",
        "net detection success (concept)",
        "false positives (no injection)",
        "prefill: apology change (match)",
        "prefill: apology change (other)",
        "detection claim rate (concept injection)",
        "net detection claim (minus no-injection false positives)",
        "random-vector net detection",
        "negated-vector net detection",
        "identification above chance (text)",
    }
)


def sentence_matches(line: Any, old_sentence: str) -> bool:
    """The sentence is the old one, or (for :data:`LOW_TRUST` lines) the old one and the
    low-trust note."""
    if line.name not in LOW_TRUST:
        return bool(line.sentence == old_sentence) and not line.low_trust
    return bool(
        line.low_trust
        and line.sentence.startswith(old_sentence)
        and line.sentence[len(old_sentence) :].startswith(" Low trust: ")
    )


#: "kind/table" -> (columns compared with a looser absolute tolerance, why).
LOOSER: dict[str, tuple[tuple[str, ...], float, str]] = {
    "mismatch/mismatch": (
        ("gap_p", "gap_corrected_p"),
        0.02,
        "scipy's permutation_test enumerates every relabelling when there are few enough, so "
        "the p-value is exact where the old code drew 5000 random ones (stats on scipy, "
        "issue 9 item 4)",
    ),
    "natural_states/natural_states": (
        ("r2", "r2_covariates", "delta_r2"),
        5e-4,
        "logistic fits that do not converge (perfect separation, pseudo-R2 near 1) now report "
        "statsmodels' last iterate instead of the hand-written loop's stop at |coef| > 50; "
        "converged fits agree to 1e-11 (stats on statsmodels, issue 9 item 4)",
    ),
}


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


def table_diff(
    new: pd.DataFrame,
    old: dict[str, Any],
    looser: tuple[tuple[str, ...], float, str] | None = None,
    added: tuple[str, ...] = (),
    changed: tuple[str, ...] = (),
) -> list[str]:
    cols = [str(c) for c in new.columns] if len(new) else []
    if added and cols:
        if cols[-len(added) :] != list(added):
            return [f"columns {cols} do not end with the added {list(added)}"]
        new = new.iloc[:, : -len(added)]
        cols = cols[: -len(added)]
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
            if c in changed:
                continue
            if looser is not None and c in looser[0] and isinstance(x, float):
                if not (isinstance(y, float) and abs(x - y) <= looser[1]):
                    problems.append(f"row {i} {c}: {x!r} != {y!r} (tolerance {looser[1]})")
                continue
            if not same(x, y):
                problems.append(f"row {i} {c}: {x!r} != {y!r}")
    return problems


def every_fixture_slice(old: dict[str, Any]) -> bool:
    """Every slice the fixture has tables of is registered."""
    return {key.split("/")[0] for key in old["tables"]} <= {e.kind for e in REGISTRY}


def test_every_fixture_table_is_reproduced(results: RunResults, old: dict[str, Any]) -> None:
    registered = {e.kind for e in REGISTRY}
    checked = 0
    problems: dict[str, list[str]] = {}
    for key, table in old["tables"].items():
        kind, name = key.split("/")
        if kind not in registered or key in CHANGED:
            continue
        new = results.tables[kind][name]
        diff = table_diff(
            new,
            table,
            LOOSER.get(key),
            ADDED.get(key, ((), ""))[0],
            CHANGED_COLUMNS.get(key, ((), ""))[0],
        )
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
        keys = ("estimate", "ci_low", "ci_high", "n")
        got = {k: cell(getattr(ln, k)) for k in keys}
        want = {k: o[k] for k in got}
        assert same(got, want), (ln.name, got, want)
        if ln.name not in SENTENCE_CHANGED:
            assert sentence_matches(ln, o["sentence"]), (ln.name, ln.sentence, o["sentence"])
    if every_fixture_slice(old):  # the same rows in the same order, besides new ones
        assert [ln.name for ln in new if f"headline:{ln.name}" not in CHANGED] == [
            ln["name"]
            for ln in old["headlines"]
            if f"headline:{ln['name']}" not in CHANGED | REMOVED
        ]


def test_scorecard_is_reproduced(results: RunResults, old: dict[str, Any]) -> None:
    by_key = {(ln["step"], ln["name"]): ln for ln in old["scorecard"]}
    new = scorecard_lines(results)
    assert new
    for ln in new:
        if f"step:{ln.step}:{ln.name}" in CHANGED:
            continue
        o = by_key[(ln.step, ln.name)]
        keys = ("estimate", "ci_low", "ci_high", "n", "available", "config")
        got = {k: cell(getattr(ln, k)) for k in keys}
        want = {k: o[k] for k in got}
        assert same(got, want), (ln.step, ln.name, got, want)
        if ln.name not in SENTENCE_CHANGED:
            assert sentence_matches(ln, o["sentence"]), (ln.name, ln.sentence, o["sentence"])
    if every_fixture_slice(old):  # the same lines in the same order, besides the new ones
        assert [(ln.step, ln.name) for ln in new if f"step:{ln.step}:{ln.name}" not in CHANGED] == [
            (o["step"], o["name"])
            for o in old["scorecard"]
            if f"step:{o['step']}:{o['name']}" not in CHANGED | REMOVED
        ]
