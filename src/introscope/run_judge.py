"""The LLM judge inside a run: checked before anything runs, applied to each new batch on the
driver, and applied again on resume to every stored trial whose judge grade is an error
(an endpoint that was down must not leave errors in a finished run for good)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from introscope.errors import JudgeError
from introscope.experiments.base import Trial, TrialResult
from introscope.grading.endpoint import check_endpoint
from introscope.grading.regrade import judge_trial
from introscope.spec import Spec
from introscope.store import RunStore

if TYPE_CHECKING:
    from introscope.grading.judge import Judge

CACHE_NAME = "judge_cache.jsonl"


def uses_judge(spec: Spec) -> bool:
    return "judge" in spec.graders and spec.judge is not None


def check_judge(spec: Spec, *, insecure: bool = False) -> None:
    """Before anything runs: the key is set and the endpoint is one the judge may reach."""
    if not uses_judge(spec):
        return
    assert spec.judge is not None
    env = spec.judge.api_key_env
    if env and not os.environ.get(env):
        raise JudgeError(
            f"The judge grader needs an API key: set {env} in the environment (or set "
            f'api_key_env = "" in the spec\'s [judge] table for a local endpoint).'
        )
    check_endpoint(spec.judge.base_url, insecure=insecure)


def open_judge(spec: Spec, run_dir: Path, *, insecure: bool = False) -> Judge:
    # Imported here, when a run has a judge: httpx is not needed otherwise.
    from introscope.grading.judge import Judge, JudgeConfig

    assert spec.judge is not None
    return Judge(
        JudgeConfig(
            base_url=spec.judge.base_url,
            model=spec.judge.model,
            api_key_env=spec.judge.api_key_env or None,
            timeout_s=spec.judge.timeout_s,
            max_retries=spec.judge.max_retries,
            cache_path=run_dir / CACHE_NAME,
            insecure=insecure,
        )
    )


def judge_grades(judge: Judge, spec: Spec, concept: str | None, response: str) -> dict[str, Any]:
    """The spec's judge criteria that apply to this experiment and trial, for one response
    (errors as ``{"error": ...}``), and detection's ``success`` once all four are graded."""
    assert spec.judge is not None
    return judge_trial(judge, spec.experiment, response, concept, spec.judge.criteria)


class JudgePool:
    """One judge per spec for the length of a run (its cache file is read once)."""

    def __init__(self, run_dir: Path, insecure: bool) -> None:
        self.run_dir = run_dir
        self.insecure = insecure
        self.judges: dict[str, Judge] = {}

    def grade_batch(
        self, spec: Spec, trials: Sequence[Trial], results: Sequence[TrialResult]
    ) -> None:
        """Add the judge's grades to a batch's results (in place)."""
        if spec.name not in self.judges:
            self.judges[spec.name] = open_judge(spec, self.run_dir, insecure=self.insecure)
        judge = self.judges[spec.name]
        for t, r in zip(trials, results, strict=True):
            if r.response is not None:
                r.grades["judge"] = judge_grades(judge, spec, t.concept, r.response)

    def close(self) -> None:
        for judge in self.judges.values():
            judge.close()
        self.judges.clear()


def has_judge_error(grades: Any) -> bool:
    judge = grades.get("judge") if isinstance(grades, Mapping) else None
    return isinstance(judge, Mapping) and any(
        isinstance(v, Mapping) and "error" in v for v in judge.values()
    )


def regrade_errors(
    specs: Iterable[Spec],
    trials: Mapping[str, Sequence[Trial]],
    run_dir: Path,
    store: RunStore,
    insecure: bool,
) -> int:
    """Grade again every stored trial whose judge grade is an error; return how many."""
    judged = [s for s in specs if uses_judge(s)]
    if not judged:
        return 0
    rows = store.to_pandas("response IS NOT NULL")
    failed = {
        r.trial_id: r.response for r in rows.itertuples(index=False) if has_judge_error(r.grades)
    }
    n = 0
    for spec in judged:
        todo = [t for t in trials[spec.name] if t.trial_id in failed]
        if not todo:
            continue
        with open_judge(spec, run_dir, insecure=insecure) as judge:
            grades = {
                t.trial_id: {"judge": judge_grades(judge, spec, t.concept, failed[t.trial_id])}
                for t in todo
            }
        n += store.update_grades(grades)
    return n
