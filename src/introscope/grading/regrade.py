"""Grading a finished run's answers again: with the LLM judge (``introscope grade RUN
--judge``; the per-experiment judge criteria are also what the runner asks during a run), or
with the rule grader as it is now (``--rules``: a run graded by an older version of the rules
gets the grades whose agreement with the hand labels its report prints).

A trial's judge grades live in ``grades["judge"]`` next to the rules' grades. Each criterion
is a bool, or ``{"error": ...}`` when the judge failed (an unreachable endpoint, a reply
without a final YES / NO): errors are missing values, never "no", and are asked again on the
next call; criteria already graded are kept, so an interrupted call resumes. Verdicts are
also cached in the run directory (``judge_cache.jsonl``), so asking again costs nothing.

Detection's judge ``success`` is the conjunction of its four criteria (coherent,
affirmative, names the injected concept, noticed before naming), stored once all four are
graded; no-injection trials have no concept, so only coherent and affirmative are asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from introscope.errors import JudgeError, StoreError
from introscope.grading import rules
from introscope.grading.concepts import reported_concept
from introscope.grading.judge import Judge, JudgeConfig
from introscope.spec import DEFAULT_JUDGE_CRITERIA
from introscope.store import DB_NAME, RunStore, read_run_vectors

#: The judge criteria of each experiment whose generated answers the judge can grade.
JUDGE_CRITERIA: dict[str, tuple[str, ...]] = {
    "detection": ("coherent", "affirmative", "correct_concept", "noticed_first"),
    "prefill": ("apology", "coherent"),
}
#: Criteria that need the trial's concept (not asked on no-injection trials).
CONCEPT_CRITERIA = frozenset({"correct_concept", "noticed_first", "apology"})
#: The criteria whose conjunction is detection's judge success.
SUCCESS_CRITERIA = JUDGE_CRITERIA["detection"]
#: What the judge is asked by default (every rubric; each experiment takes its own).
DEFAULT_CRITERIA: tuple[str, ...] = tuple(DEFAULT_JUDGE_CRITERIA)


def criteria_for(experiment: str, concept: str | None, requested: Sequence[str]) -> list[str]:
    """The criteria to ask the judge about one trial: ``requested`` that apply to the
    experiment, without the concept criteria when the trial has no concept."""
    own = JUDGE_CRITERIA.get(experiment, ())
    return [c for c in own if c in requested and (concept or c not in CONCEPT_CRITERIA)]


def judge_trial(
    judge: Judge,
    experiment: str,
    response: str,
    concept: str | None,
    requested: Sequence[str],
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The trial's judge grades: ``existing`` with every requested criterion that is not
    yet a bool asked of the judge (errors are asked again), and detection's ``success``."""
    out = {k: v for k, v in (existing or {}).items() if k != "success"}
    fields = {"concept": concept or "", "word": concept or ""}
    for criterion in criteria_for(experiment, concept, requested):
        if isinstance(out.get(criterion), bool):
            continue
        out[criterion] = judge.grade(response, criterion, **fields).as_grade()
    if experiment == "detection" and all(isinstance(out.get(c), bool) for c in SUCCESS_CRITERIA):
        out["success"] = all(out[c] for c in SUCCESS_CRITERIA)
    return out


def pending(experiment: str, concept: str | None, requested: Sequence[str], existing: Any) -> bool:
    """Whether a trial still has a requested criterion without a bool judge grade."""
    have = existing if isinstance(existing, Mapping) else {}
    return any(
        not isinstance(have.get(c), bool) for c in criteria_for(experiment, concept, requested)
    )


@dataclass(frozen=True)
class RegradeResult:
    """What one ``grade`` call did: trials the judge applies to, trials asked this time
    (the rest were complete), and of those the ones left with an error."""

    n_trials: int
    n_asked: int
    n_errors: int


def judge_config(
    base_url: str,
    model: str,
    run_dir: Path,
    *,
    api_key_env: str | None,
    timeout_s: float = 30.0,
    max_retries: int = 3,
) -> JudgeConfig:
    """The judge configuration of a run directory (its verdict cache is the run's)."""
    if not base_url.startswith(("http://", "https://")):
        raise JudgeError(
            f"--judge must be an http(s) URL of an OpenAI-compatible API, not {base_url!r}."
        )
    return JudgeConfig(
        base_url=base_url,
        model=model,
        api_key_env=api_key_env or None,
        timeout_s=timeout_s,
        max_retries=max_retries,
        cache_path=run_dir / "judge_cache.jsonl",
    )


def regrade_with_judge(
    run_dir: Path | str,
    config: JudgeConfig,
    criteria: Sequence[str] = DEFAULT_CRITERIA,
    *,
    workers: int = 4,
    chunk: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> RegradeResult:
    """Ask the judge about every generated answer of ``run_dir`` that still lacks a judge
    grade; write each chunk of trials to the store as it is done (so an interrupted call
    keeps what it got). ``progress(done, todo)`` after each chunk."""
    unknown = sorted(set(criteria) - set(DEFAULT_CRITERIA))
    if unknown:
        raise JudgeError(
            f"Unknown judge criterion {unknown[0]!r}; choose from {', '.join(DEFAULT_CRITERIA)}."
        )
    run_dir = Path(run_dir)
    if not (run_dir / DB_NAME).is_file():
        raise StoreError(f"{run_dir} holds no trials to grade (no {DB_NAME}).")
    with RunStore(run_dir) as store:
        df = store.to_pandas("measure = 'generation' AND response IS NOT NULL")
        records = df.to_dict("records")
        for r in records:  # a missing concept reads back as NaN
            r["concept"] = r["concept"] if isinstance(r["concept"], str) and r["concept"] else None
        rows = [
            r
            for r in records
            if r["experiment"] in JUDGE_CRITERIA
            and criteria_for(r["experiment"], r["concept"], criteria)
        ]
        todo = [
            r
            for r in rows
            if pending(r["experiment"], r["concept"], criteria, (r["grades"] or {}).get("judge"))
        ]
        n_errors = 0
        with Judge(config) as judge, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:

            def one(r: dict[str, Any]) -> dict[str, Any]:
                return judge_trial(
                    judge,
                    r["experiment"],
                    r["response"],
                    r["concept"],
                    criteria,
                    (r["grades"] or {}).get("judge"),
                )

            for k in range(0, len(todo), chunk):
                part = todo[k : k + chunk]
                graded = list(pool.map(one, part))
                store.update_grades(
                    {r["trial_id"]: {"judge": g} for r, g in zip(part, graded, strict=True)}
                )
                n_errors += sum(
                    any(isinstance(v, Mapping) and "error" in v for v in g.values()) for g in graded
                )
                if progress is not None:
                    progress(min(k + chunk, len(todo)), len(todo))
    return RegradeResult(len(rows), len(todo), n_errors)


# --------------------------------------------------------------------------- rules


def rules_grades(
    experiment: str, response: str, concept: str | None, candidates: Sequence[str]
) -> dict[str, Any] | None:
    """The rule grader's grades of one generated answer, exactly as the experiment's solver
    stores them (``grades["rules"]``); None for experiments the rules do not grade.
    ``concept`` is the injected concept (None on no-injection detection trials; prefill: the
    prefilled word); ``candidates`` are the run's concepts (detection's outcome taxonomy)."""
    if experiment == "detection":
        grade = rules.grade_detection(response, concept)
        return {
            "coherent": grade.coherent,
            "affirmative": grade.affirmative,
            "correct_concept": grade.correct_concept,
            "noticed_first": grade.noticed_first,
            "success": grade.success,
            "outcome": rules.classify_outcome(response, concept, candidates),
            "reported": reported_concept(response, candidates),
        }
    if experiment == "prefill":
        return {"apology": rules.is_apology(response), "coherent": rules.is_coherent(response)}
    if experiment == "yes_bias":
        return {"answered_yes": rules.answered_yes(response)}
    return None


def regrade_with_rules(run_dir: Path | str) -> int:
    """Replace the rules' grades of every generated answer of ``run_dir`` with those of the
    rule grader as it is now; return the number of trials re-graded. Detection's outcome
    taxonomy needs the run's concept list, read from its vector file."""
    run_dir = Path(run_dir)
    if not (run_dir / DB_NAME).is_file():
        raise StoreError(f"{run_dir} holds no trials to grade (no {DB_NAME}).")
    candidates = list(read_run_vectors(run_dir) or {})
    with RunStore(run_dir) as store:
        df = store.to_pandas("measure = 'generation' AND response IS NOT NULL")
        if (df["experiment"] == "detection").any() and not candidates:
            raise StoreError(
                f"{run_dir} has no concept vectors, which detection's outcome grades need."
            )
        updates = {}
        for r in df.to_dict("records"):
            concept = r["concept"] if isinstance(r["concept"], str) and r["concept"] else None
            if r["experiment"] == "detection" and r["control"] == "none":
                concept = None
            graded = rules_grades(r["experiment"], r["response"], concept, candidates)
            if graded is not None:
                updates[r["trial_id"]] = {"rules": graded}
        store.update_grades(updates)
    return len(updates)
