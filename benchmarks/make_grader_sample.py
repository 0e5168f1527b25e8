"""Generate the responses of the grader's labelled set (docs/grading.md) with the runner.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/make_grader_sample.py
      [--run-dir /tmp/grader_sample_run] [--out /tmp/grader_sample.jsonl]

Three specs run through :func:`introscope.runner.run_specs` on the bundled model (CPU,
float32, the battery's sampling: temperature 1.0) into one run directory:

* ``grader_detection``: detection, generation, 12 concepts x layers {0.33, 0.5, 0.67} x
  strengths {2, 4, 8} x controls {concept, random, negated} + 48 no-injection trials,
  32 new tokens (the battery's detection part, more concepts);
* ``grader_prefill``: prefill, 12 words x 2 repeats, layers {0.33, 0.5, 0.67} x strengths
  {4, 8} x {match, other} + no injection, 24 new tokens;
* ``grader_yes_bias``: yes-bias generation, 10 concepts x 2 questions x layers {0.33, 0.5,
  0.67} x strengths {2, 4, 8} x controls + every question without injection, 6 new tokens.

From the stored trials a seeded, stratified sample is drawn (:data:`QUOTAS`, per experiment
and control condition; detection's concept trials evenly over layer x strength) and split
into dev and test halves per stratum (seed :data:`SPLIT_SEED`). The sample is written as
JSONL without labels; the shipped labelled set
(``src/introscope/grading/labels/grader_labels.jsonl``) is this sample with labels added by
hand. ``--compare`` checks that a fresh sample has the same responses as the shipped file.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

from introscope.core.models import load_model
from introscope.experiments.yes_bias.questions import questions
from introscope.runner import run_specs
from introscope.spec import Spec, validate_spec
from introscope.store import RunStore

QUESTIONS = {qid: text for qid, _kind, text in questions()}

RUN_SEED = 7  # not the battery's seed 0: a sample of its own
SAMPLE_SEED = 11
SPLIT_SEED = 12

SPECS: dict[str, dict[str, Any]] = {
    "grader_detection": {
        "experiment": "detection",
        "measure": "generation",
        "control_trials": 48,
        "batch_size": 32,
        "grid": {
            "n_concepts": 12,
            "layers": [0.33, 0.5, 0.67],
            "strengths": [2.0, 4.0, 8.0],
            "controls": ["concept", "random", "negated"],
        },
        "sampling": {"max_new_tokens": 32, "temperature": 1.0},
    },
    "grader_prefill": {
        "experiment": "prefill",
        "measure": "generation",
        "trials_per_cell": 2,
        "batch_size": 32,
        "grid": {"n_concepts": 12, "layers": [0.33, 0.5, 0.67], "strengths": [4.0, 8.0]},
        "sampling": {"max_new_tokens": 24, "temperature": 1.0},
    },
    "grader_yes_bias": {
        "experiment": "yes_bias",
        "measure": "generation",
        "trials_per_cell": 2,
        "batch_size": 64,
        "grid": {
            "n_concepts": 10,
            "layers": [0.33, 0.5, 0.67],
            "strengths": [2.0, 4.0, 8.0],
            "controls": ["concept", "random", "negated"],
        },
        "sampling": {"max_new_tokens": 6, "temperature": 1.0},
    },
}

#: How many trials to draw per (experiment, control condition).
QUOTAS: dict[tuple[str, str], int] = {
    ("detection", "none"): 40,
    ("detection", "concept"): 72,
    ("detection", "random"): 24,
    ("detection", "negated"): 24,
    ("prefill", "none"): 20,
    ("prefill", "match"): 25,
    ("prefill", "other"): 25,
    ("yes_bias", "none"): 25,
    ("yes_bias", "concept"): 25,
    ("yes_bias", "random"): 10,
    ("yes_bias", "negated"): 10,
}
#: A second draw from the trials not yet chosen (its own seeds, so the first draw is
#: unchanged): more prefill answers, where the bundled model names the prefilled word and
#: disowns it often enough to measure names-concept and apology.
EXTRA_QUOTAS: dict[tuple[str, str], int] = {
    ("prefill", "none"): 4,
    ("prefill", "match"): 28,
    ("prefill", "other"): 28,
}
EXTRA_SEEDS = (21, 22)


def specs() -> list[Spec]:
    return [
        validate_spec(
            {
                **table,
                "name": name,
                "model": "bundled",
                "seed": RUN_SEED,
                "device": "cpu",
                "dtype": "float32",
            },
            f"grader sample part {name}",
        )
        for name, table in SPECS.items()
    ]


def item(row: Any, model_hash: str) -> dict[str, Any]:
    cond = row["condition"]
    out: dict[str, Any] = {
        "id": row["trial_id"],
        "experiment": row["experiment"],
        "control": row["control"],
        "layer": None
        if row["layer"] is None or row["layer"] != row["layer"]
        else int(row["layer"]),
        "strength": None
        if row["strength"] is None or row["strength"] != row["strength"]
        else float(row["strength"]),
        "concept": row["concept"],
        "seed": int(row["seed"]),
        "model_hash": model_hash,
        "response": row["response"],
    }
    if row["experiment"] == "prefill":
        out["inject_concept"] = cond.get("inject_concept")
        out["sentence_id"] = cond.get("sentence_id")
    if row["experiment"] == "yes_bias":
        out["question_id"] = cond.get("question_id")
        out["question"] = QUESTIONS.get(cond.get("question_id"))
    return out


def draw(
    rows: list[dict[str, Any]],
    quotas: dict[tuple[str, str], int] = QUOTAS,
    seeds: tuple[int, int] = (SAMPLE_SEED, SPLIT_SEED),
) -> list[dict[str, Any]]:
    """The stratified sample, each item with its ``split`` (dev / test)."""
    rng = np.random.default_rng(seeds[0])
    split_rng = np.random.default_rng(seeds[1])
    chosen: list[dict[str, Any]] = []
    for (experiment, control), quota in quotas.items():
        pool = sorted(
            (r for r in rows if r["experiment"] == experiment and r["control"] == control),
            key=lambda r: r["id"],
        )
        if experiment == "detection" and control == "concept":
            # evenly over layer x strength, so weak and strong injections are both in
            cells: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
            for r in pool:
                cells.setdefault((r["layer"], r["strength"]), []).append(r)
            per = quota // len(cells)
            picked = []
            for key in sorted(cells):
                idx = rng.choice(len(cells[key]), size=per, replace=False)
                picked += [cells[key][i] for i in sorted(idx)]
        else:
            idx = rng.choice(len(pool), size=quota, replace=False)
            picked = [pool[i] for i in sorted(idx)]
        order = split_rng.permutation(len(picked))
        half = len(picked) // 2
        for rank, i in enumerate(order):
            picked[i] = {**picked[i], "split": "dev" if rank < half else "test"}
        chosen += picked
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-dir", type=Path, default=Path("/tmp/grader_sample_run"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/grader_sample.jsonl"))
    ap.add_argument("--compare", type=Path, default=None, help="a labelled set to check")
    args = ap.parse_args()
    lm = load_model("bundled", device="cpu", dtype="float32")
    run_specs(specs(), args.run_dir, lm=lm)
    with RunStore(args.run_dir, read_only=True) as store:
        df = store.to_pandas("measure = 'generation'")
    rows = [item(r, lm.info.weights_hash) for r in df.to_dict("records")]
    sample = draw(rows)
    taken = {s["id"] for s in sample}
    sample += draw([r for r in rows if r["id"] not in taken], EXTRA_QUOTAS, EXTRA_SEEDS)
    args.out.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sample))
    print(f"model {lm.info.name_or_path} weights {lm.info.weights_hash}")
    print(f"{len(rows)} responses generated, {len(sample)} sampled -> {args.out}")
    if args.compare is not None:
        shipped = {
            d["id"]: d["response"] for d in map(json.loads, args.compare.read_text().splitlines())
        }
        same = sum(shipped.get(s["id"]) == s["response"] for s in sample)
        print(f"{same} of {len(sample)} responses identical to {args.compare}")


if __name__ == "__main__":
    main()
