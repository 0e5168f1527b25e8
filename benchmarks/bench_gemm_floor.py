"""The matrix-product floor of one decoding step: what the model's products cost on their own.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_gemm_floor.py [--batch 32]
      [--threads 2] [--repeats 9]

For every distinct linear-layer shape of the bundled model's decoding step (``batch`` rows:
the attention projections, the MLP and the output head) times ``torch.nn.functional.linear``
in float32, ten calls back to back per repeat (the weight stays in cache, so this is a lower
bound: inside a real step every weight is read from memory once), and beside it

  packed   MKL's pre-packed GEMM (``torch.ops.mkl._mkl_linear``, the weight packed once, as
           inductor's CPU freezing does), with whether its output is bit-identical to
           ``F.linear``'s: a product exact mode could use
  bf16     the same product in bfloat16 (fast mode's precision where the CPU has fast
           bfloat16; slower than float32 without AVX-512 BF16 / AMX)
  int8     fbgemm's dynamically quantised product (int8 weights per output channel, the
           input quantised per tensor at every call): fast on AVX2, but see
           ``bench_fast.py --variants int8`` for what it does to the model's outputs

and sums them over the step (shape x its number of uses). Prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")

import torch
from torch import nn

from introscope.core.models import load_model


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of one call (10 calls per repeat)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(10):
            fn()
        times.append((time.perf_counter() - t0) / 10)
    return statistics.median(times) * 1e3


def measure_shape(
    n_out: int, n_in: int, batch: int, repeats: int, gen: torch.Generator
) -> tuple[dict[str, float], str]:
    """Milliseconds per product of each kind at one shape, and whether the packed product's
    bits equal ``F.linear``'s ("-" where MKL's packed GEMM is not available)."""
    w = torch.randn(n_out, n_in, generator=gen) / n_in**0.5
    x = torch.randn(batch, n_in, generator=gen)
    ms = {"fp32": timed(lambda: nn.functional.linear(x, w), repeats)}
    same = "-"
    if torch.backends.mkl.is_available() and hasattr(torch.ops.mkl, "_mkl_linear"):
        packed = torch.ops.mkl._mkl_reorder_linear_weight(w, batch)
        out = torch.ops.mkl._mkl_linear(x, packed, w, None, batch)
        same = str(torch.equal(out, nn.functional.linear(x, w)))
        ms["packed"] = timed(lambda: torch.ops.mkl._mkl_linear(x, packed, w, None, batch), repeats)
    wb, xb = w.bfloat16(), x.bfloat16()
    ms["bf16"] = timed(lambda: nn.functional.linear(xb, wb), repeats)
    lin = nn.Linear(n_in, n_out, bias=False)
    lin.weight.data.copy_(w)
    q = torch.ao.quantization.quantize_dynamic(
        nn.Sequential(lin),
        {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
        dtype=torch.qint8,
    )
    ms["int8"] = timed(lambda: q(x), repeats)
    return ms, same


def step_shapes(model: nn.Module) -> dict[tuple[int, int], int]:
    """(out, in) features of every linear layer a decoding step runs -> how many times."""
    uses: dict[tuple[int, int], int] = {}
    for mod in model.modules():
        if isinstance(mod, nn.Linear):
            key = (mod.out_features, mod.in_features)
            uses[key] = uses.get(key, 0) + 1
    return uses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # torch.ao's deprecation notices
    lm = load_model()
    uses = step_shapes(lm.model)
    gen = torch.Generator().manual_seed(0)
    print(
        f"batch {args.batch}, threads {torch.get_num_threads()}, medians of {args.repeats} "
        f"x 10 calls; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'out x in':>14s} {'uses':>5s} {'fp32':>8s} {'packed':>8s} {'same bits':>9s} "
        f"{'bf16':>8s} {'int8':>8s}"
    )
    totals = {"fp32": 0.0, "packed": 0.0, "bf16": 0.0, "int8": 0.0}
    with torch.inference_mode():
        for (n_out, n_in), k in sorted(uses.items()):
            ms, same = measure_shape(n_out, n_in, args.batch, args.repeats, gen)
            for name, v in ms.items():
                totals[name] += v * k
            cells = " ".join(f"{ms.get(c, float('nan')):8.3f}" for c in ("fp32", "packed"))
            print(
                f"{n_out:>6d} x {n_in:<5d} {k:5d} {cells} {same:>9s} "
                f"{ms['bf16']:8.3f} {ms['int8']:8.3f}"
            )
    print("step total (ms): " + ", ".join(f"{name} {v:.1f}" for name, v in totals.items() if v > 0))


if __name__ == "__main__":
    main()
