"""Cost of one batched decoding step: Hugging Face's concatenating cache vs the in-place one.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_decode_step.py [--policies]

Prefills a batch of random-token prompts on the bundled model twice, then decodes from
both, alternating step by step: one with ``DynamicCache`` as Hugging Face builds it
(``torch.cat`` of every layer's cache per step), one after
:func:`introscope.core.kv_cache.reserve` (writes in place). Prints the median step of each,
their ratio, and whether every step's logits were bit-identical. ``--policies`` reruns the
measurement in subprocesses under OpenMP's default and passive wait policies (the policy
must be set before torch starts its threads), which is how benchmarks/RESULTS.md compares
them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")

import torch
from transformers import DynamicCache

from introscope.core.kv_cache import reserve
from introscope.core.models import load_model


def prefill(model: Any, ids: torch.Tensor) -> tuple[float, Any, torch.Tensor]:
    """(seconds, cache, first greedy tokens) of one prompt pass."""
    cache = DynamicCache(config=model.config)
    mask = torch.ones(ids.shape, dtype=torch.long)
    t0 = time.perf_counter()
    out = model(input_ids=ids, attention_mask=mask, cache=cache, logits_to_keep=1)
    return time.perf_counter() - t0, cache, out.logits[:, -1].argmax(-1)


def step(model: Any, cache: Any, nxt: torch.Tensor, n: int) -> tuple[float, torch.Tensor]:
    """(seconds, logits) of one single-token step at position ``n`` (no padding)."""
    b = nxt.shape[0]
    t0 = time.perf_counter()
    out = model(
        input_ids=nxt[:, None],
        attention_mask=torch.ones(b, n + 1, dtype=torch.long),
        position_ids=torch.full((b, 1), n),
        cache=cache,
        logits_to_keep=1,
    )
    return time.perf_counter() - t0, out.logits[:, -1].clone()


def compare(model: Any, ids: torch.Tensor, steps: int) -> dict[str, Any]:
    """Decode ``steps`` greedy tokens with both caches, alternating step by step (and which
    goes first) so that machine noise hits both alike."""
    with torch.inference_mode():
        p_cat, cat, nxt_cat = prefill(model, ids)
        p_grow, grow, nxt_grow = prefill(model, ids)
        reserve(grow, steps)
        times: dict[str, list[float]] = {"cat": [], "grow": []}
        identical = True
        n = ids.shape[1]
        for s in range(steps):
            order = ("cat", "grow") if s % 2 == 0 else ("grow", "cat")
            logits = {}
            for name in order:
                cache, nxt = (cat, nxt_cat) if name == "cat" else (grow, nxt_grow)
                dt, logits[name] = step(model, cache, nxt, n + s)
                times[name].append(dt)
            identical &= torch.equal(logits["cat"], logits["grow"])
            nxt_cat, nxt_grow = logits["cat"].argmax(-1), logits["grow"].argmax(-1)
    return {"prefill": statistics.median([p_cat, p_grow]), "identical": identical, **times}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--prompt-len", type=int, default=181)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--policies", action="store_true", help="compare OpenMP wait policies")
    args = ap.parse_args()
    if args.policies:
        argv = [a for a in sys.argv[1:] if a != "--policies"]
        for policy in (None, "PASSIVE"):
            env = dict(os.environ)
            env.pop("OMP_WAIT_POLICY", None)
            if policy:
                env["OMP_WAIT_POLICY"] = policy
            print(f"--- OMP_WAIT_POLICY={policy or '(default)'}", flush=True)
            subprocess.run([sys.executable, __file__, *argv], env=env, check=True)
        return
    torch.set_num_threads(args.threads)
    lm = load_model()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(100, 40000, (args.batch, args.prompt_len), generator=gen)
    compare(lm.model, ids[:, :8], 2)  # warm-up
    r = compare(lm.model, ids, args.steps)
    identical = r["identical"]
    m_cat, m_grow = statistics.median(r["cat"]), statistics.median(r["grow"])
    pre_median = r["prefill"]
    print(
        f"batch {args.batch}, prompt {args.prompt_len} tokens, {args.steps} steps, "
        f"threads {torch.get_num_threads()}, OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY', '(default)')}"
    )
    print(f"prefill (s)                     {pre_median:8.3f}")
    print(f"decode step, concatenating (s)  {m_cat:8.3f}")
    print(f"decode step, in place (s)       {m_grow:8.3f}")
    print(f"speed-up per step               {m_cat / m_grow:8.2f}x")
    print(f"logits bit-identical at every step: {identical}")


if __name__ == "__main__":
    main()
