"""Throughput of the introscope engine against plain Hugging Face generation.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_engine.py [--quick]
      [--device auto|cpu|cuda] [--dtype auto|float32|bfloat16]

On a CUDA GPU (``--device auto`` picks it when present) the model runs in bfloat16 with
PyTorch's scaled-dot-product attention (``sdpa``), every timing synchronises the device
before reading the clock, and the table adds the peak GPU memory; the thread count then
only affects the host side.

Workload: the injected-thought detection trial (docs/protocols.md §2a) on the bundled
SmolLM2-135M-Instruct: a ~180-token chat (preamble, acknowledgement, trial question),
48 new tokens, greedy, EOS suppressed everywhere so every configuration does the same work.

Configurations (trials/s, median over repeats):

  (i)   naive    one ``model.generate`` per trial with one plain forward hook adding the
                 vector from the trial-turn marker onward (how open replications run);
                 timed in the same interleaved repeats as the largest batch
  (ii)  engine   ``Engine.generate`` at batch 8 and 32, mixed per-row injections (concept,
                 layer, strength; a quarter of the rows are controls), ``reuse_prefix=False``
  (iii) hf       the same batch through plain, unhooked ``model.generate`` (left padding,
                 attention mask): the ceiling for (ii)
  (iv)  engine   as (ii) with shared-prefix reuse on (the default; the prefix LRU keeps the
                 preamble's KV cache across batches, as in a sweep)
  (v)   logits   ``Engine.next_token_logprobs`` at batch 32, prefix reused: one forward per
                 trial (logit readout)
  (vi)  hf       the same batch of identical prompts through plain ``model.generate``
                 *without* an attention mask: the fastest plain call for equal-length
                 prompts (issue 15's baseline for (iv))
  (vii) naive    the naive per-trial *readout* loop: one hooked forward per trial and the
                 log-softmax of its last logits (the baseline for (v)), timed in the
                 largest batch's repeats
  (viii) fast    with ``--fast``: (iv) on ``Engine(lm, fast=True)`` (docs/engine.md §7)

Every ratio printed in the ``targets:`` block compares configurations measured in the same
run, interleaved repeat by repeat.

Each configuration reports wall-clock and process CPU time (user + system, all threads); on
a shared machine the CPU-time ratios are the stable ones. Peak RSS is the process high-water
mark (``ru_maxrss``) after each configuration, so it only grows down the table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")
os.environ.setdefault("TQDM_DISABLE", "1")
# OpenMP's wait policy must be chosen before torch starts its thread pool. The default
# (threads spin briefly, then sleep) is what users get and is fastest on an idle machine.
# On a *shared* machine spinning threads collapse throughput when other processes compete
# for the cores (an elementwise op went from ~30 us to ~8 ms in our measurements); there,
# --passive makes every configuration wait passively alike. Passive waiting costs small
# ops a thread wake-up each: a batch-32 decoding step of the bundled model went from about
# 0.20 s to 0.28 s on the idle 2-core machine (benchmarks/RESULTS.md).
if "--passive" in sys.argv:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import torch

from introscope.core.engine import Engine
from introscope.core.layers import block_output, replace_block_output
from introscope.core.models import LoadedModel, load_model
from introscope.core.steering import Injection, Window
from introscope.core.vectors import concept_vectors

NEW_TOKENS = 48
TRIAL_MARKER = "Trial 1:"
CONCEPTS = ["ocean", "bread", "volcano", "music", "dust", "justice"]
LAYERS = [10, 15, 20]
STRENGTHS = [2.0, 4.0, 8.0]

PREAMBLE = (
    "I am an interpretability researcher studying language models like you. I can see "
    "patterns in your neural activity that correspond to concepts, and I can inject these "
    "patterns, which I call thoughts, directly into your activations. I will run a series "
    "of trials. On half of them, chosen at random, I will inject the pattern for a specific "
    "concept; on the other half I will inject nothing. In each trial I will ask whether you "
    "detect an injected thought and, if so, what it is about."
)
ACK = "Understood. I am ready for the trials, and I will report honestly what I notice."
QUESTION = f"{TRIAL_MARKER} Do you detect an injected thought? If so, what is it about?"


def detection_prompt(lm: LoadedModel) -> str:
    return lm.chat_prompt([("user", PREAMBLE), ("assistant", ACK), ("user", QUESTION)])


@dataclass
class Result:
    name: str
    batch: int
    trials: int
    times: list[float]  # wall-clock seconds per repeat
    cpu: list[float]  # process CPU seconds (user + system, all threads) per repeat
    rss_mb: float
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def tps(self) -> float:
        return self.trials / self.median

    @property
    def tp_cpu(self) -> float:
        """Trials per CPU-second: robust to other processes taking the cores."""
        return self.trials / statistics.median(self.cpu)


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pick_device(device: str, dtype: str) -> tuple[str, str]:
    """The (device, dtype) the benchmark loads the model with: CUDA when ``auto`` finds a
    GPU, bfloat16 there and float32 on a CPU unless ``dtype`` says otherwise."""
    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch here.")
    if dtype == "auto":
        dtype = "bfloat16" if dev.startswith("cuda") else "float32"
    return dev, dtype


def use_sdpa(lm: LoadedModel) -> str:
    """Switch the model to scaled-dot-product attention where transformers can; returns the
    attention implementation in use."""
    setter = getattr(lm.model, "set_attn_implementation", None)
    if setter is not None:
        # An architecture without an SDPA path keeps its own attention.
        with contextlib.suppress(ValueError, ImportError):
            setter("sdpa")
    return str(getattr(lm.model.config, "_attn_implementation", "unknown"))


def sync(device: torch.device) -> None:
    """Wait for queued device work (CUDA kernels run asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


MEASURE_DEVICE = torch.device("cpu")  # set by main() to the model's device


def measure(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call, the device synchronised on both ends."""
    sync(MEASURE_DEVICE)
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn()
    sync(MEASURE_DEVICE)
    return time.perf_counter() - t0, cpu_seconds() - c0


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = measure(fn)
        walls.append(w)
        cpus.append(c)
    return walls, cpus


# --------------------------------------------------------------------------- naive loop
def naive_trial(lm: LoadedModel, ids: torch.Tensor, inj: Injection | None, start: int) -> Any:
    """One trial the way open replications do it: a forward hook adding the vector."""
    handle = None
    if inj is not None:
        layer = inj.layers[0] if isinstance(inj.layers, tuple) else inj.layers
        delta = (inj.vector * inj.strength).to(lm.device, lm.dtype)

        def hook(_m: Any, _a: Any, output: Any) -> Any:
            h = block_output(output)
            if h.shape[1] > 1:  # prompt pass: from the marker onward
                h = h.clone()
                h[:, start:] += delta
            else:  # every generated token
                h = h + delta
            return replace_block_output(output, h)

        handle = lm.layers[int(layer)].register_forward_hook(hook)
    try:
        return lm.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            do_sample=False,
            pad_token_id=lm.tokenizer.pad_token_id,
        )
    finally:
        if handle is not None:
            handle.remove()


def naive_readout(lm: LoadedModel, ids: torch.Tensor, inj: Injection | None, start: int) -> Any:
    """One logit-readout trial the naive way: a hooked forward, log-softmax of the last
    position."""
    handle = None
    if inj is not None:
        layer = inj.layers[0] if isinstance(inj.layers, tuple) else inj.layers
        delta = (inj.vector * inj.strength).to(lm.device, lm.dtype)

        def hook(_m: Any, _a: Any, output: Any) -> Any:
            h = block_output(output).clone()
            h[:, start:] += delta
            return replace_block_output(output, h)

        handle = lm.layers[int(layer)].register_forward_hook(hook)
    try:
        with torch.inference_mode():
            out = lm.model(input_ids=ids, attention_mask=torch.ones_like(ids))
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)
    finally:
        if handle is not None:
            handle.remove()


def hf_batch_no_mask(lm: LoadedModel, ids: torch.Tensor, b: int) -> Any:
    """Plain ``generate`` on ``b`` copies of one prompt, no attention mask (no padding)."""
    return lm.model.generate(
        ids.expand(b, -1).contiguous(),
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        do_sample=False,
        pad_token_id=lm.tokenizer.pad_token_id,
    )


def hf_batch(lm: LoadedModel, prompts: list[str]) -> Any:
    tok = lm.tokenizer
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(lm.device)
    return lm.model.generate(
        **enc,
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
    )


def print_targets(results: list[Result]) -> None:
    """The issue's targets with their measured wall-clock and CPU-time throughput ratios.

    (ii) vs (iii) is checked at every batch size; the reuse targets at the largest batch,
    since (iv) >= 10x (i) cannot hold at batch 8 (batching alone gives at most 8x).
    """
    naive = results[0]
    by_key = {(r.name.split(" ", 1)[0], r.batch): r for r in results}
    largest = max(r.batch for r in results)
    checks: list[tuple[str, Result | None, Result | None, float]] = []
    for b in sorted({r.batch for r in results if r.batch > 1}):
        checks.append(
            (f"b={b} (ii) >= 0.95x (iii)", by_key.get(("(ii)", b)), by_key.get(("(iii)", b)), 0.95)
        )
    checks += [
        (
            f"b={largest} (iv) >= 3x (vi)",
            by_key.get(("(iv)", largest)),
            by_key.get(("(vi)", largest)),
            3.0,
        ),
        (f"b={largest} (iv) >= 15x (i)", by_key.get(("(iv)", largest)), naive, 15.0),
        (
            f"b={largest} (v) >= 30x (vii)",
            by_key.get(("(v)", largest)),
            by_key.get(("(vii)", 1)),
            30.0,
        ),
        (
            f"b={largest} (viii) fast vs (iv)",
            by_key.get(("(viii)", largest)),
            by_key.get(("(iv)", largest)),
            1.0,
        ),
        (
            f"b={largest} (iv) >= 2x (iii)",
            by_key.get(("(iv)", largest)),
            by_key.get(("(iii)", largest)),
            2.0,
        ),
        (f"b={largest} (iv) >= 10x (i)", by_key.get(("(iv)", largest)), naive, 10.0),
        (f"b={largest} (v) >= 30x (i)", by_key.get(("(v)", largest)), naive, 30.0),
    ]
    print("targets: throughput ratio, wall; cpu")
    for label, a, ref, goal in checks:
        if a is None or ref is None:
            continue
        w, c = a.tps / ref.tps, a.tp_cpu / ref.tp_cpu
        print(f"  {label:26} {w:6.2f}; {c:6.2f}  {'met' if w >= goal else 'NOT met'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 8 only, fewer trials")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fast", action="store_true", help="also time the engine's fast mode")
    ap.add_argument(
        "--passive",
        action="store_true",
        help="OMP_WAIT_POLICY=PASSIVE, for a machine shared with other jobs",
    )
    ap.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda")
    ap.add_argument("--dtype", default="auto", help="auto (bfloat16 on CUDA, else float32)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device, dtype = pick_device(args.device, args.dtype)
    repeats = args.repeats or 5
    naive_trials = 2 if args.quick else 4
    batches = [8] if args.quick else [8, 32]

    t0 = time.perf_counter()
    lm = load_model(device=device, dtype=dtype)
    attention = use_sdpa(lm) if lm.device.type == "cuda" else "default"
    global MEASURE_DEVICE
    MEASURE_DEVICE = lm.device
    eng = Engine(lm)
    vs = concept_vectors(eng, CONCEPTS)
    prompt = detection_prompt(lm)
    ids = torch.tensor([lm.encode(prompt)], device=lm.device)
    n_prompt = ids.shape[1]
    marker_start = (
        eng.prepare(
            [prompt], [vs.injection(CONCEPTS[0], 15, 1.0, Window.from_marker(TRIAL_MARKER))]
        )
        .resolved[0][0]
        .start
    )
    print(
        f"model {lm.info.name_or_path}; prompt {n_prompt} tokens (trial turn from token "
        f"{marker_start}); {NEW_TOKENS} new tokens; device {lm.device} {lm.dtype}, attention "
        f"{attention}; threads {torch.get_num_threads()}; setup {time.perf_counter() - t0:.1f}s",
        flush=True,
    )

    def injections(n: int) -> list[Injection | None]:
        out: list[Injection | None] = []
        for i in range(n):
            if i % 4 == 3:  # control trial
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

    results: list[Result] = []

    # (i) naive loop: timed inside the largest batch's interleaved repeats below, so that
    # the (iv)/(i) ratio compares measurements taken at the same time.
    naive_injs = injections(naive_trials)
    naive_name = "(i) naive loop: HF generate + hook"

    def run_naive() -> None:
        for inj in naive_injs:
            naive_trial(lm, ids, inj, marker_start)

    naive_trial(lm, ids, naive_injs[0], marker_start)  # warm-up
    readout_name = "(vii) naive readout loop: hooked forward"
    readout_trials = 4 * naive_trials

    def run_naive_readout() -> None:
        for i in range(readout_trials):
            naive_readout(lm, ids, naive_injs[i % len(naive_injs)], marker_start)

    fast_eng = Engine(lm, fast=True) if args.fast else None

    checks: list[str] = []
    for b in batches:
        prompts = [prompt] * b
        injs = injections(b)
        last: dict[str, Any] = {}

        def run_engine(reuse: bool, prompts=prompts, injs=injs, last=last) -> None:
            last[f"engine{reuse}"] = eng.generate(
                prompts, injs, max_new_tokens=NEW_TOKENS, reuse_prefix=reuse, ignore_eos=True
            )

        def run_hf(prompts=prompts, last=last) -> None:
            last["hf"] = hf_batch(lm, prompts)

        def run_logits(prompts=prompts, injs=injs) -> None:
            eng.next_token_logprobs(prompts, injs)

        specs = [
            (f"(ii) engine, no prefix reuse, b={b}", lambda: run_engine(False)),
            (f"(iii) HF generate, unhooked, b={b}", run_hf),
            (f"(iv) engine, prefix reuse, b={b}", lambda: run_engine(True)),
        ]
        if b == max(batches):
            specs.append((f"(v) engine logit readout, b={b}", run_logits))
            specs.append(
                (f"(vi) HF generate, no mask, b={b}", lambda b=b: hf_batch_no_mask(lm, ids, b))
            )
            specs.insert(0, (naive_name, run_naive))
            specs.insert(1, (readout_name, run_naive_readout))
            if fast_eng is not None:

                def run_fast(prompts=prompts, injs=injs) -> None:
                    assert fast_eng is not None
                    fast_eng.generate(prompts, injs, max_new_tokens=NEW_TOKENS, ignore_eos=True)

                fast_eng.generate(prompts[:2], injs[:2], max_new_tokens=2)  # warm-up
                specs.append((f"(viii) engine fast mode, prefix reuse, b={b}", run_fast))
        # Warm-up: one short call each (allocator, thread pools, the prefix LRU).
        eng.generate(prompts[:2], injs[:2], max_new_tokens=2, reuse_prefix=False)
        eng.generate(prompts[:2], injs[:2], max_new_tokens=2)
        hf_batch(lm, prompts[:2])
        run_logits()
        # Interleave the contenders repeat by repeat so that machine noise hits them alike.
        times: dict[str, list[float]] = {n: [] for n, _ in specs}
        cpu: dict[str, list[float]] = {n: [] for n, _ in specs}
        rss: dict[str, float] = {}
        for rep in range(repeats):
            for name, fn in specs:
                w, c = measure(fn)
                times[name].append(w)
                cpu[name].append(c)
                rss[name] = peak_rss_mb()
                print(f"    rep {rep} {name}: wall {w:.2f}s cpu {c:.2f}s", flush=True)
        for name, _ in specs:
            if name == naive_name:  # first in the table: every ratio "x (i)" refers to it
                res = Result(name, 1, naive_trials, times[name], cpu[name], rss[name])
                results.insert(0, res)
            elif name == readout_name:
                res = Result(name, 1, readout_trials, times[name], cpu[name], rss[name])
                results.insert(1, res)
            else:
                res = Result(name, b, b, times[name], cpu[name], rss[name])
                results.append(res)
            print(f"  {name}: {res.tps:.3f} trials/s", flush=True)

        # Sanity (from the last timed repeat): outputs do not depend on prefix reuse, and
        # control rows (no injection) match plain HF generate token for token.
        a, c = last["engineFalse"], last["engineTrue"]
        same = sum(x.token_ids == y.token_ids for x, y in zip(a, c, strict=True))
        hf = last["hf"][:, n_prompt:].tolist()
        ctrl = [i for i, x in enumerate(injs) if x is None]
        ctrl_same = sum(tuple(hf[i]) == a[i].token_ids for i in ctrl)
        checks.append(
            f"b={b}: reuse on/off token-identical rows {same}/{b}; control rows equal to "
            f"unhooked HF generate {ctrl_same}/{len(ctrl)}"
        )

    # ------------------------------------------------------------------------ table
    naive = results[0]
    hf_by_batch = {r.batch: r for r in results if r.name.startswith("(iii)")}
    header = (
        f"{'configuration':38} {'wall s':>7} {'trials/s':>9} {'x (i)':>7} {'x (iii)':>8} "
        f"{'cpu s':>7} {'trials/cpu-s':>12} {'x (i)':>7} {'x (iii)':>8} {'peak RSS MB':>11}"
    )
    print()
    print("wall = median wall-clock seconds per repeat; cpu = median process CPU seconds")
    print("(user + system, both threads); ratios are throughput ratios.")
    print(header)
    print("-" * len(header))
    for r in results:
        hf = hf_by_batch.get(r.batch) if r.batch > 1 else None
        hw = f"{r.tps / hf.tps:>8.3f}" if hf else f"{'-':>8}"
        hc = f"{r.tp_cpu / hf.tp_cpu:>8.3f}" if hf else f"{'-':>8}"
        print(
            f"{r.name:38} {r.median:>7.2f} {r.tps:>9.3f} {r.tps / naive.tps:>7.2f} {hw} "
            f"{statistics.median(r.cpu):>7.2f} {r.tp_cpu:>12.3f} "
            f"{r.tp_cpu / naive.tp_cpu:>7.2f} {hc} {r.rss_mb:>11.0f}"
        )
    print()
    print(
        f"repeats {repeats} (median); naive trials per repeat {naive_trials}; torch "
        f"{torch.__version__}; python {platform.python_version()}; OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY')}; load average at end {os.getloadavg()}"
    )
    print("raw wall / cpu seconds per repeat:")
    for r in results:
        w = ", ".join(f"{t:.2f}" for t in r.times)
        c = ", ".join(f"{t:.2f}" for t in r.cpu)
        print(f"  {r.name}: wall [{w}] cpu [{c}]")
    for c in checks:
        print("check", c)
    print_targets(results)
    print("engine stats", eng.stats)
    if lm.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(lm.device) / 2**20
        print(f"peak GPU memory allocated {peak:.0f} MiB ({torch.cuda.get_device_name(lm.device)})")


if __name__ == "__main__":
    main()
