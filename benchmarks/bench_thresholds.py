"""Wall time of the category-threshold sweep (docs/protocols.md §3) through the runner.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_thresholds.py [--quick]
      [--n-concepts N] [--batch-size B]

Full sweep = the ``category_thresholds`` preset on the bundled SmolLM2-135M-Instruct:
5 categories x 50 concepts x 3 layers x 4 strengths x (concept, matched random) = 6000
injected trials, plus 1 no-injection trial and 250 connection-measure rows, plus building
250 concept vectors (and the 100 baseline words) into a temporary run directory.
``--quick`` keeps one category (abstract nouns); ``--n-concepts N`` keeps N per category.

Reported: total wall time, trials/s, and the split into vector building, measure rows and
injected trials (from the per-trial ``duration_s`` the runner stores). For a partial sweep
the full sweep's time is extrapolated from those per-part rates and labelled as such.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_engine.py

import torch

from introscope.core.models import load_model
from introscope.runner import run_spec
from introscope.spec import load_spec, validate_spec
from introscope.store import load_run

FULL_CONCEPTS = 250
FULL_INJECTED = 6000
BASELINE_WORDS = 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one category (abstract nouns)")
    ap.add_argument("--n-concepts", type=int, default=None, help="concepts per category")
    ap.add_argument("--batch-size", type=int, default=None)
    args = ap.parse_args()
    spec = load_spec("category_thresholds")
    data = spec.model_dump(mode="json")
    if args.quick:
        data["grid"]["categories"] = ["abstract_nouns"]
    if args.n_concepts is not None:
        data["grid"]["n_concepts"] = args.n_concepts
    if args.batch_size is not None:
        data["batch_size"] = args.batch_size
    spec = validate_spec(data, "bench_thresholds")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    t0 = time.perf_counter()
    lm = load_model(spec.model, device=spec.device, dtype=spec.dtype)
    load_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        res = run_spec(spec, Path(tmp) / "run", lm=lm)
        wall = time.perf_counter() - t1
        df = load_run(Path(tmp) / "run")
    control = df["condition"].map(lambda c: c["control"])
    measure_s = float(df.loc[control == "measure", "duration_s"].sum())
    injected = control.isin(["concept", "random", "negated"])
    inject_s = float(df.loc[injected, "duration_s"].sum())
    n_inj, n_meas = int(injected.sum()), int((control == "measure").sum())
    other_s = wall - measure_s - inject_s  # vectors, trial building, store, the none trial
    print(f"model load: {load_s:.1f} s (not counted below)")
    print(
        f"ran {res.n_trials} trials ({n_inj} injected, {n_meas} measure rows, 1 none) "
        f"in {wall:.1f} s = {res.n_trials / wall:.2f} trials/s"
    )
    print(
        f"  vectors+overhead {other_s:.1f} s | measures {measure_s:.1f} s "
        f"({n_meas / max(measure_s, 1e-9):.1f}/s) | injected {inject_s:.1f} s "
        f"({n_inj / max(inject_s, 1e-9):.2f} trials/s)"
    )
    if n_inj < FULL_INJECTED:
        words = n_meas + BASELINE_WORDS
        est = (
            other_s * (FULL_CONCEPTS + BASELINE_WORDS) / words
            + measure_s / max(n_meas, 1) * FULL_CONCEPTS
            + inject_s / max(n_inj, 1) * FULL_INJECTED
        )
        print(
            f"EXTRAPOLATED full sweep ({FULL_INJECTED} injected trials, {FULL_CONCEPTS} "
            f"concepts): {est:.0f} s = {est / 60:.1f} min "
            f"(measured fraction: {n_inj}/{FULL_INJECTED} injected trials)"
        )


if __name__ == "__main__":
    main()
