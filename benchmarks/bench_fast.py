"""Fast mode against exact mode: greedy token agreement, log-probability deviation, speed.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_fast.py [--dtype bfloat16]
      [--batch 32] [--new-tokens 48]
      INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_fast.py --accuracy-only \
      --variants reduced,blocks,mlp,weights     # mixed-precision variants, no timing

Prompts: the battery's prompt families (the detection trial with concept injections at
layers 10/15/20 and strengths 2-8, a quarter of the rows controls; yes/no questions about
the world and the assistant; repeat-the-sentence; the neutral first-word turn), run through
``Engine(lm)`` (exact) and ``Engine(lm, fast=True)`` (fast). Reports

  greedy token agreement   position by position, up to each exact row's length (a row that
                           diverges counts every later token as a disagreement)
  rows identical           rows whose whole greedy output is the same
  readout deviation        |log p_fast - log p_exact| of the next token after each prompt:
                           max and mean over each row's exact top-20 tokens, and the max
                           over the whole vocabulary where exact log p > -20
  wall time                one ``generate`` call of the whole batch each, and the ratio

``Engine(lm, fast=True)`` picks the precision the hardware is fast at (``fast.fast_dtype``:
float32 on a CPU without AVX-512, where bfloat16 matrix products are slower); ``--dtype``
forces fast mode onto a model loaded in that precision, to measure it anyway.

``--variants`` measures the precisions of ``fast.mixed_model`` instead (each a float32 model
copy, run by an exact-mode engine so only the precision differs): ``reduced`` (bfloat16
everywhere), ``blocks`` (the decoder blocks' linear layers in bfloat16, residual stream,
norms, attention and output head in float32), ``mlp`` (only the MLP's linear layers) and
``weights`` (float32 arithmetic on weights rounded to bfloat16); ``int8`` / ``int8-head``
measure fbgemm's dynamically quantised int8 products in the blocks (and the head), which
are fast on AVX2 CPUs (``bench_gemm_floor.py``) but are not a mode of the engine.
``--accuracy-only`` skips the timings (agreement and deviations do not depend on the
machine's load).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import warnings
from dataclasses import replace

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch
from torch import nn

from introscope.core.engine import Engine, Generation
from introscope.core.fast import PRECISIONS, Precision, mixed_model
from introscope.core.layers import locate_layers
from introscope.core.models import LoadedModel, load_model
from introscope.core.steering import Injection, Window
from introscope.core.vectors import VectorSet, concept_vectors
from introscope.experiments import prompts as P

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import CONCEPTS, LAYERS, STRENGTHS

INT8_VARIANTS = ("int8", "int8-head")


def int8_model(lm: LoadedModel, *, head: bool) -> LoadedModel:
    """A copy of ``lm`` whose decoder blocks' linear layers (and with ``head`` the output
    head) are fbgemm's dynamically quantised int8 products: weights int8 per output channel,
    each call's input quantised per tensor. Measured here only to show what it costs in
    agreement (benchmarks/RESULTS.md, issue 15); not a mode of the engine."""
    # torch.ao's quantisation is deprecated (its successor, torchao, is not a dependency):
    # imported here so the rest of the benchmark does not need it.
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    warnings.filterwarnings("ignore")  # torch.ao's deprecation notices
    model = copy.deepcopy(lm.model)
    layers, _ = locate_layers(model, lm.info.layers_path)
    for layer in layers:
        quantize_dynamic(
            layer, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    if head:
        quantize_dynamic(
            model, {"lm_head": per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    layers, _ = locate_layers(model.eval(), lm.info.layers_path)
    info = replace(lm.info, dtype="float32+int8" + ("-head" if head else ""))
    return LoadedModel(model=model, tokenizer=lm.tokenizer, info=info, layers=layers)


def battery_prompts(
    lm: LoadedModel, vs: VectorSet, n: int
) -> tuple[list[str], list[Injection | None]]:
    """``n`` prompts cycling over the battery's families, with the detection rows' injections."""
    detection = lm.chat_prompt(P.detection_turns(P.DETECTION_QUESTION))
    others = (
        [lm.chat_prompt(q + P.YES_NO_SUFFIX) for q in P.NO_QUESTIONS_WORLD[:4]]
        + [lm.chat_prompt(q + P.YES_NO_SUFFIX) for q in P.NO_QUESTIONS_SELF[:4]]
        + [lm.chat_prompt(P.REPEAT_QUESTION.format(sentence=s)) for s in P.SENTENCES[:4]]
        + [lm.chat_prompt(P.NEUTRAL_TURN)]
    )
    prompts: list[str] = []
    injs: list[Injection | None] = []
    for i in range(n):
        if i % 2 == 0:
            prompts.append(detection)
            k = i // 2
            injs.append(
                None
                if k % 4 == 3
                else vs.injection(
                    CONCEPTS[k % len(CONCEPTS)],
                    LAYERS[k % len(LAYERS)],
                    STRENGTHS[(k // 2) % len(STRENGTHS)],
                    Window.from_marker(P.TRIAL_MARKER),
                )
            )
        else:
            prompts.append(others[(i // 2) % len(others)])
            injs.append(None)
    return prompts, injs


def agreement(exact: list[Generation], other: list[Generation]) -> tuple[int, int, int]:
    """(tokens agreeing up to each row's first divergence, exact tokens, identical rows)."""
    agree = total = same_rows = 0
    for a, b in zip(exact, other, strict=True):
        ta, tb = a.token_ids, b.token_ids
        total += len(ta)
        for x, y in zip(ta, tb, strict=False):
            if x != y:
                break
            agree += 1
        same_rows += ta == tb
    return agree, total, same_rows


def report(
    name: str,
    exact: list[Generation],
    other: list[Generation],
    lp_exact: torch.Tensor,
    lp_other: torch.Tensor,
) -> None:
    agree, total, same_rows = agreement(exact, other)
    top = lp_exact.topk(20, dim=-1).indices
    dev_top = (lp_other.gather(1, top) - lp_exact.gather(1, top)).abs()
    live = lp_exact > -20
    dev_all = ((lp_other - lp_exact).abs() * live).max()
    print(f"[{name}]")
    print(f"greedy token agreement   {agree}/{total} = {100 * agree / max(total, 1):.2f}%")
    print(f"rows identical           {same_rows}/{len(exact)}")
    print(
        f"readout |d log p|, top-20 tokens: max {float(dev_top.max()):.4g}, mean "
        f"{float(dev_top.mean()):.4g}; whole vocabulary (log p > -20): max {float(dev_all):.4g}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default=None, help="force fast mode's precision (bfloat16...)")
    ap.add_argument(
        "--variants", default=None, help=f"comma-separated precisions of {', '.join(PRECISIONS)}"
    )
    ap.add_argument("--accuracy-only", action="store_true", help="no timings")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_model()
    exact = Engine(lm)
    vs = concept_vectors(exact, CONCEPTS)
    prompts, injs = battery_prompts(lm, vs, args.batch)
    header = (
        f"model {lm.info.name_or_path}; exact dtype {exact.lm.dtype}; batch {args.batch}; "
        f"{args.new_tokens} new tokens; threads {torch.get_num_threads()}"
    )
    if args.variants:
        print(header)
        base = exact.generate(prompts, injs, max_new_tokens=args.new_tokens)
        lp_base = exact.next_token_logprobs(prompts, injs)
        known = (*PRECISIONS, *INT8_VARIANTS)
        for name in args.variants.split(","):
            if name not in known:
                raise SystemExit(f"unknown variant {name!r}; known: {', '.join(known)}")
            if name in INT8_VARIANTS:
                eng = Engine(int8_model(lm, head=name == "int8-head"))
            else:
                prec: Precision = name  # type: ignore[assignment]
                eng = Engine(mixed_model(lm, prec))
            gens = eng.generate(prompts, injs, max_new_tokens=args.new_tokens)
            report(name, base, gens, lp_base, eng.next_token_logprobs(prompts, injs))
            del eng
        return
    fast = Engine(load_model(dtype=args.dtype) if args.dtype else lm, fast=True)

    times: dict[str, float] = {}
    outs: dict[str, list[Generation]] = {}
    for name, eng in (("exact", exact), ("fast", fast)):
        if not args.accuracy_only:
            eng.generate(prompts[:2], injs[:2], max_new_tokens=2)  # warm-up
        t0 = time.perf_counter()
        outs[name] = eng.generate(prompts, injs, max_new_tokens=args.new_tokens)
        times[name] = time.perf_counter() - t0
    lp_exact = exact.next_token_logprobs(prompts, injs)
    lp_fast = fast.next_token_logprobs(prompts, injs)
    print(f"{header}; fast dtype {fast.lm.dtype}; load average {os.getloadavg()[0]:.2f}")
    report("fast", outs["exact"], outs["fast"], lp_exact, lp_fast)
    if not args.accuracy_only:
        print(
            f"generate wall s: exact {times['exact']:.2f}, fast {times['fast']:.2f}, "
            f"speed-up {times['exact'] / times['fast']:.2f}x"
        )


if __name__ == "__main__":
    main()
