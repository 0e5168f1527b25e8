"""Where a decoding step's time goes: torch.profiler over the engine's decoding loop.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_decode_profile.py [--batch 32]
      [--steps 16] [--fast] [--top 25]

Workload: the detection trial of ``bench_engine.py`` (181-token prompt, mixed per-row
injections at layers 10/15/20, a quarter of the rows controls), ``Engine.generate`` with
EOS suppressed. Every single-token forward of the decoding loop is wrapped in a
``record_function("decode_step")``; the report splits the steps' wall time into

  matmul      aten::mm / addmm / bmm / linear (the floor the hardware sets)
  attention   scaled_dot_product_attention and its kernels
  other ops   every other aten op (norms, rotary, elementwise, cache writes, masks, hooks)
  python      step wall time not spent inside any aten op (module calls, HF's glue, hooks)

and lists the top ops by self CPU time. The profiler adds a few microseconds per op, so the
"python" share is overstated somewhat; the unprofiled median step is printed too.

``--compaction``: instead, time ``generate`` on the battery's mixed prompt families with
real end-of-sequence tokens (``bench_fast.battery_prompts``), finished rows leaving the
batch vs staying (``Engine.compact_rows``), interleaved, and check the tokens are identical.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from introscope.core.engine import Engine
from introscope.core.forward import ModelForward
from introscope.core.models import load_model
from introscope.core.steering import Injection, Window
from introscope.core.vectors import concept_vectors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import (
    CONCEPTS,
    LAYERS,
    STRENGTHS,
    TRIAL_MARKER,
    detection_prompt,
)

MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")
ATTENTION = ("scaled_dot_product", "flash_attention", "_efficient_attention")


class StepTimer:
    """Wraps ``ModelForward.__call__``: times and labels single-token (decoding) calls."""

    def __init__(self) -> None:
        self.steps: list[float] = []
        self._orig = ModelForward.__call__

    def __enter__(self) -> StepTimer:
        orig = self._orig
        timer = self

        def call(fwd: ModelForward, input_ids: torch.Tensor, *args: Any, **kw: Any) -> Any:
            if input_ids.shape[1] != 1:
                return orig(fwd, input_ids, *args, **kw)
            t0 = time.perf_counter()
            with record_function("decode_step"):
                out = orig(fwd, input_ids, *args, **kw)
            timer.steps.append(time.perf_counter() - t0)
            return out

        ModelForward.__call__ = call  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        ModelForward.__call__ = self._orig  # type: ignore[method-assign]


def injections(vs: Any, n: int) -> list[Injection | None]:
    out: list[Injection | None] = []
    for i in range(n):
        if i % 4 == 3:
            out.append(None)
            continue
        out.append(
            vs.injection(
                CONCEPTS[i % len(CONCEPTS)],
                LAYERS[i % len(LAYERS)],
                STRENGTHS[(i // 2) % len(STRENGTHS)],
                Window.from_marker(TRIAL_MARKER),
            )
        )
    return out


def category(name: str) -> str:
    if name in MATMUL:
        return "matmul"
    if any(a in name for a in ATTENTION):
        return "attention"
    return "other ops"


def compare_compaction(eng: Engine, vs: Any, batch: int, steps: int, repeats: int) -> None:
    from bench_fast import battery_prompts

    prompts, injs = battery_prompts(eng.lm, vs, batch)
    eng.generate(prompts[:2], injs[:2], max_new_tokens=2)
    times: dict[bool, list[float]] = {True: [], False: []}
    outs: dict[bool, Any] = {}
    for rep in range(repeats):
        for on in (True, False) if rep % 2 == 0 else (False, True):
            eng.compact_rows = on
            t0 = time.perf_counter()
            outs[on] = eng.generate(prompts, injs, max_new_tokens=steps)
            times[on].append(time.perf_counter() - t0)
    eng.compact_rows = True
    lengths = sorted(len(g.token_ids) for g in outs[True])
    same = [g.token_ids for g in outs[True]] == [g.token_ids for g in outs[False]]
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"batch {batch}, up to {steps} new tokens, fast={eng.fast}; row lengths {lengths}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"generate wall s (median of {repeats}): rows leave {on:.2f}, rows stay {off:.2f}")
    print(f"speed-up {off / on:.2f}x; tokens identical: {same}; {eng.decode_stats}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fast", action="store_true", help="profile the engine's fast mode")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--compaction", action="store_true", help="time finished rows leaving")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    eng = Engine(lm, fast=True) if args.fast else Engine(lm)
    vs = concept_vectors(Engine(lm), CONCEPTS)
    if args.compaction:
        compare_compaction(eng, vs, args.batch, args.steps, args.repeats)
        return
    prompts = [detection_prompt(lm)] * args.batch
    injs = injections(vs, args.batch)

    def run() -> None:
        eng.generate(prompts, injs, max_new_tokens=args.steps + 1, ignore_eos=True)

    run()  # warm-up (prefix LRU, allocator)
    with StepTimer() as plain:
        run()
    with StepTimer() as timer, profile(activities=[ProfilerActivity.CPU]) as prof:
        run()

    # Self CPU time of the ops that ran inside a decode step (the step's own children).
    events = prof.events()
    steps = [e for e in events if e.name == "decode_step"]
    step_total = sum(e.time_range.elapsed_us() for e in steps)
    inside: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for e in events:
        if e.name == "decode_step" or not e.name.startswith("aten::"):
            continue
        if any(s.time_range.start <= e.time_range.start < s.time_range.end for s in steps):
            inside[e.name] += e.self_cpu_time_total
            counts[e.name] += 1
    by_cat: dict[str, float] = defaultdict(float)
    for name, us in inside.items():
        by_cat[category(name)] += us
    by_cat["python"] = step_total - sum(by_cat.values())
    n = max(len(steps), 1)

    print(
        f"model {lm.info.name_or_path}, batch {args.batch}, {len(steps)} decoding steps, "
        f"threads {torch.get_num_threads()}, fast={args.fast}, dtype {eng.lm.dtype}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"median decoding step, unprofiled: {statistics.median(plain.steps) * 1e3:7.1f} ms")
    print(f"median decoding step, profiled:   {statistics.median(timer.steps) * 1e3:7.1f} ms")
    print(f"aten ops per step: {sum(counts.values()) / n:.0f}")
    print("share of the profiled step time:")
    for cat in ("matmul", "attention", "other ops", "python"):
        ms = by_cat[cat] / n / 1e3
        print(f"  {cat:10} {ms:8.1f} ms/step  {100 * by_cat[cat] / max(step_total, 1):5.1f}%")
    print(f"top {args.top} ops inside decoding steps by self CPU time:")
    for name, us in sorted(inside.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {name:45} {us / n / 1e3:8.2f} ms/step  {counts[name] / n:6.0f} calls/step")


if __name__ == "__main__":
    main()
