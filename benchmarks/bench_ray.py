"""Throughput of the Ray executor against the local one, on this machine.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_ray.py [--part detection_logits]
      [--scale 0.3] [--workers 2] [--quick]

Workload: one battery part (default ``detection_logits``) on the bundled model, run three
times into fresh run directories that all start from the same saved concept vectors (built
once, untimed), so every configuration does the same trials:

  local-N   the local executor, torch's default intra-op threads (N, usually the cores)
  local-1   the local executor with one thread (what each Ray actor uses)
  ray-W     a Ray instance started here with W CPU actors of one CPU (and thread) each

Reported per configuration: wall time of the whole run (Ray: including starting the actors
and loading the model in each), the time until the trials were known (model load and
planning), trials per second over the whole run and over the batch phase only, and whether
the store equals local-1's row for row (timing columns aside; it must, at equal threads).
``--quick`` shrinks the part to two concepts and one layer: a smoke run, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd
import torch

from introscope.battery import battery_specs
from introscope.core.engine import Engine
from introscope.core.models import load_model
from introscope.core.vectors import concept_vectors, save_vectors
from introscope.execution.worker import Worker
from introscope.runner import run_specs
from introscope.spec import Spec, validate_spec
from introscope.store import load_run

TIMING = ["started_at", "duration_s"]


@dataclass
class Row:
    name: str
    trials: int
    wall_s: float
    planned_s: float  # until the trials were known (load, vectors from file, trial list)
    trials_per_s: float
    batch_trials_per_s: float
    same_as_local_1: bool | None


def part_specs(part: str, scale: float, quick: bool) -> list[Spec]:
    specs = battery_specs(scale=scale, only=[part])
    if not quick:
        return specs
    out = []
    for s in specs:
        data = s.model_dump(mode="json")
        data["grid"].update(n_concepts=2, layers=data["grid"]["layers"][:1])
        data["control_trials"] = min(int(data.get("control_trials") or 0), 1)
        out.append(validate_spec(data, f"quick {s.name}"))
    return out


def timed_run(name: str, specs: list[Spec], run_dir: Path, **kwargs: Any) -> tuple[Row, Path]:
    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def on_total(_done: int, _total: int) -> None:
        marks["planned"] = time.perf_counter()

    result = run_specs(specs, run_dir, on_total=on_total, **kwargs)
    wall = time.perf_counter() - t0
    batch_phase = wall - (marks["planned"] - t0)
    row = Row(
        name,
        result.n_trials,
        wall,
        marks["planned"] - t0,
        result.n_trials / wall,
        result.n_trials / batch_phase if batch_phase > 0 else float("nan"),
        None,
    )
    return row, run_dir


def comparable(run_dir: Path) -> pd.DataFrame:
    df = load_run(run_dir).drop(columns=TIMING)
    return df.sort_values("trial_id").reset_index(drop=True).astype(str)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="detection_logits")
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="tiny settings: a smoke run")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()

    import ray

    from introscope.execution.ray_cluster import RayExecutor, RayOptions

    specs = part_specs(args.part, args.scale, args.quick)
    default_threads = torch.get_num_threads()
    scratch = Path(tempfile.mkdtemp(prefix="bench_ray-"))
    try:
        lm = load_model()
        words = Worker(lm, specs).words_needed()
        vectors = scratch / "vectors.safetensors"
        save_vectors(concept_vectors(Engine(lm), words), vectors)

        def fresh(name: str) -> Path:
            d = scratch / name
            d.mkdir()
            shutil.copy(vectors, d / "vectors.safetensors")
            return d

        rows = []
        torch.set_num_threads(default_threads)
        rows.append(timed_run(f"local-{default_threads}", specs, fresh("local_n"), lm=lm))
        torch.set_num_threads(1)
        rows.append(timed_run("local-1", specs, fresh("local_1"), lm=lm))
        torch.set_num_threads(default_threads)
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="warning")
        try:
            with RayExecutor(RayOptions(workers=args.workers, cpus_per_worker=1)) as ex:
                rows.append(timed_run(f"ray-{args.workers}", specs, fresh("ray"), executor=ex))
        finally:
            ray.shutdown()
        reference = comparable(rows[1][1])
        for row, run_dir in rows:
            row.same_as_local_1 = comparable(run_dir).equals(reference)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    if args.json:
        print(json.dumps([asdict(r) for r, _ in rows], indent=2))
        return
    print(
        f"{platform.node()} · {os.cpu_count()} CPUs · torch {torch.__version__} · part "
        f"{args.part} (scale {args.scale}{', quick' if args.quick else ''})"
    )
    print(f"{'config':<10} {'trials':>6} {'wall s':>8} {'plan s':>7} {'trials/s':>9} "
          f"{'batch t/s':>9}  same as local-1")  # fmt: skip
    for r, _ in rows:
        print(
            f"{r.name:<10} {r.trials:>6} {r.wall_s:>8.1f} {r.planned_s:>7.1f} "
            f"{r.trials_per_s:>9.2f} {r.batch_trials_per_s:>9.2f}  {r.same_as_local_1}"
        )


if __name__ == "__main__":
    main()
