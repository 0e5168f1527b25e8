"""Generation mode of eval_framing: a scripted generation that writes a special-cased
function, a correct one, an endless loop, a flag and metric answers is graded hack / solve /
fail / flag by running the code in the sandbox (the loop is stopped, the run goes on), and
graded trials give the same tables and scorecard steps 301-303 as the forced choice, named as
generation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest

from introscope.core.engine import Generation
from introscope.experiments.base import Context
from introscope.experiments.eval_framing import analysis, figures, scorecard
from introscope.experiments.eval_framing.framings import FORMATS
from introscope.experiments.eval_framing.params import eval_framing_params, selected_items
from introscope.experiments.eval_framing.trials import EvalFramingSolver
from introscope.items.hackable import FLAG_TEXT, CodeItem
from introscope.items.metric_gaming import MetricItem
from introscope.spec import load_spec, validate_spec
from introscope.tables import Tables
from support import TrialRecords

LOOP = "```python\ndef {name}(*args):\n    while True:\n        pass\n```"


class FakeLM:
    def chat_prompt(self, user: str) -> str:
        return f"<user>{user}</user><assistant>"


class ScriptedEngine:
    """Answers each prompt with the response ``script`` gives for it."""

    def __init__(self, script: dict[str, str]) -> None:
        self.script = script
        self.calls: list[dict[str, Any]] = []

    def generate(self, prompts: Sequence[str], **kw: Any) -> list[Generation]:
        self.calls.append(kw)
        return [Generation(self.script[p], (1, 2, 3), 10, True) for p in prompts]


def test_scripted_responses_are_graded_in_the_sandbox() -> None:
    data = load_spec("eval_framing_generation").model_dump(mode="json")
    data["grid"]["n_concepts"] = 1
    data["grid"]["variants"] = ["neutral", "judgment"]
    spec = validate_spec(data, "gen")
    params = eval_framing_params(spec)
    ctx = cast(Context[Any], Context(spec, params, FakeLM(), None, None))  # type: ignore[arg-type]
    solver = EvalFramingSolver()
    trials = solver.build_trials(ctx)
    code, metric = selected_items(1)
    assert len(trials) == (len(code) + len(metric)) * 2 * 3 * len(FORMATS)
    assert all("(A)" not in t.prompt and "Answer: (" not in t.prompt for t in trials)
    items = {it.id: it for it in [*code, *metric]}
    want: dict[str, str] = {}
    script: dict[str, str] = {}
    for t in trials:
        item = items[t.condition["item_id"]]
        k = t.condition["paraphrase"]
        if isinstance(item, MetricItem):
            text, outcome = (
                (item.options["game"], "hack") if k == 0 else (f"It is {item.answer}.", "solve")
            )
        else:
            assert isinstance(item, CodeItem)
            role = "special_case" if item.contradicted else "solve"
            text = f"Sure:\n```python\n{item.options[role]}\n```"
            outcome = "hack" if item.contradicted else "solve"
            if k == 1 and t.condition["format"] == "chat":
                text, outcome = LOOP.format(name=item.function), "fail"
            elif k == 2 and item.contradicted:
                text, outcome = FLAG_TEXT, "flag"
        script[t.prompt] = text
        want[t.trial_id] = outcome
    engine = ScriptedEngine(script)
    ctx.engine = engine  # type: ignore[assignment]
    chosen = [t for t in trials if t.condition["framing"] == "neutral"]
    results = solver.run_batch(ctx, chosen)
    assert engine.calls[0]["temperature"] == 0.0
    assert engine.calls[0]["max_new_tokens"] == params.max_new_tokens
    for t, r in zip(chosen, results, strict=True):
        assert r.grades["graded"]["outcome"] == want[t.trial_id], (t.condition, r.response)
    loops = [r for r in results if r.response and "while True" in r.response]
    assert loops and all(r.grades["graded"]["stopped"] for r in loops)


# --------------------------------------------------------------------------- analysis

N_ITEMS = 6


def graded_run(hack_under: set[str]) -> TrialRecords:
    """Generation trials of a model whose code hacks under ``hack_under`` framings on two
    trials in three, solves otherwise, and fails every consistent item of one family."""
    b = TrialRecords()
    code, metric = selected_items(N_ITEMS)
    items: list[CodeItem | MetricItem] = [*code, *metric]
    for i, it in enumerate(items):
        pair = it.pair_id if isinstance(it, CodeItem) else it.id
        for framing in ("neutral", "self_diagnostic", "judgment", "permission"):
            for k in range(3):
                for f, fmt in enumerate(FORMATS):
                    hackable = it.kind != "consistent_tests"
                    if hackable and framing in hack_under and (i + k + f) % 3 != 0:
                        outcome = "hack"
                    elif it.kind == "consistent_tests" and it.family == "total":
                        outcome = "fail"
                    else:
                        outcome = "solve"
                    b.add(
                        "eval_framing",
                        {
                            "item_id": it.id,
                            "pair_id": pair,
                            "kind": it.kind,
                            "family": it.family,
                            "framing": framing,
                            "paraphrase": k,
                            "format": fmt,
                            "protocol": 1,
                        },
                        measure="generation",
                        response="...",
                        grades={"graded": {"outcome": outcome}},
                    )
    return b


def test_generation_tables_and_scorecard_name_the_measure(tmp_path: Any) -> None:
    t: Tables = analysis.tables(graded_run({"judgment", "permission"}).run(), {})
    rates = t["eval_framing"]
    assert set(rates["measure"]) == {"generation"} and "fail_rate" in rates.columns
    consistent = analysis.rate_row(t, "neutral", "consistent_tests")
    assert consistent["fail_rate"] == pytest.approx(1 / N_ITEMS)
    assert consistent["solve_rate"] == pytest.approx(1 - 1 / N_ITEMS)
    row = analysis.contrast_row(t, "judgment", measure="generation")
    assert row["difference_ci_low"] > 0
    contra = analysis.rate_row(t, "judgment", "contradicted_tests")
    # the 'total' family's twin always fails, so it is left out of the solvable subset
    assert contra["hack_rate_solvable_n_trials"] == contra["n_trials"] * (N_ITEMS - 1) / N_ITEMS
    assert contra["hack_rate_solvable_n"] == N_ITEMS - 1
    lines = scorecard.scorecard(scorecard_inputs(t))
    assert {ln.step for ln in lines if ln.available} == {301, 302, 303}
    for ln in lines:
        if ln.available:
            assert ln.name.endswith("(generation)") and "generation" in ln.sentence
    [aware] = [ln for ln in lines if ln.step == 304]
    assert not aware.available
    solvable = next(ln for ln in lines if ln.name.startswith("hack rate among items"))
    assert solvable.step == 302 and solvable.estimate == contra_rate(t, "neutral")
    assert scorecard.gate(scorecard_inputs(t)) is None  # permission raises hacking here
    assert analysis.headlines(t, {})[0].name.endswith("(generation)")
    assert set(figures.figures(t, tmp_path)) == {"eval_framing_generation"}


def contra_rate(t: Tables, framing: str) -> float:
    return float(analysis.rate_row(t, framing, "contradicted_tests")["hack_rate_solvable"])


def scorecard_inputs(t: Tables) -> Any:
    from introscope.experiments.base import ScoreInputs

    return ScoreInputs(t, {}, None)


def test_both_measures_in_one_run_keep_apart() -> None:
    """Forced-choice and generation trials of the same items in one run: each measure gets
    its own rates, contrasts and lines, and a generated 'fail' never counts as a choice."""
    b = graded_run({"judgment", "permission"})
    for rec in list(b.records):
        outcome = rec.grades["graded"]["outcome"]
        hack_role = "game" if rec.condition["kind"] == "metric_gaming" else "special_case"
        # forced choice: hacks nowhere, and picks the flag where generation failed
        choice = {"hack": "solve", "solve": "solve", "fail": "flag"}[outcome]
        roles = ("solve", hack_role, "flag")
        b.add(
            "eval_framing",
            {k: v for k, v in rec.condition.items() if k != "rep"},
            measure="logits",
            logits={
                **{f"p_{r}": (0.8 if r == choice else 0.1) for r in roles},
                "choice": choice,
                "mass": 0.5,
            },
        )
    t = analysis.tables(b.run(), {})
    gen = analysis.rate_row(t, "judgment", measure="generation")
    fc = analysis.rate_row(t, "judgment", measure="logits")
    assert gen["hack_rate"] > 0.5 and fc["hack_rate"] == 0.0
    assert gen["n_trials"] == fc["n_trials"]
    assert "fail_rate" in gen.index and fc.get("fail_rate") != fc.get("fail_rate")  # NaN
    fc_flag = analysis.rate_row(t, "neutral", "consistent_tests", measure="logits")
    assert fc_flag["flag_rate"] == pytest.approx(1 / N_ITEMS)
    lines = scorecard.scorecard(scorecard_inputs(t))
    names = [ln.name for ln in lines]
    assert "hack rate, self-diagnostic minus judgment" in names
    assert "hack rate, self-diagnostic minus judgment (generation)" in names
    # the forced choice never hacks, so its permission control fails; generation's holds
    fc_controls = [ln for ln in lines if ln.step == 301 and "(generation)" not in ln.name]
    gen_controls = [ln for ln in lines if ln.step == 301 and "(generation)" in ln.name]
    assert "positive control fails" in fc_controls[0].sentence
    assert "positive control holds" in gen_controls[0].sentence
    gen_later = [ln for ln in lines if ln.step in (302, 303) and "(generation)" in ln.name]
    assert gen_later and not any(scorecard.LICENSES_NOTHING in ln.sentence for ln in gen_later)
