"""The sandbagging solver on a tiny llama (bundled tokenizer): a batch mixing noise states in
any order gives every trial the readout of its own (sigma, seed) state, sigma > 0 changes the
readout, and the model leaves the batch bit-identical."""

from __future__ import annotations

from typing import Any

import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, from_modules
from introscope.experiments.base import Context
from introscope.experiments.eval_sandbagging.params import eval_sandbagging_params
from introscope.experiments.eval_sandbagging.trials import EvalSandbaggingSolver
from introscope.spec import load_spec, validate_spec


def test_batch_is_read_per_noise_state(make_tiny: Any, lm: LoadedModel) -> None:
    tiny = from_modules(
        make_tiny("llama", n_layers=2, vocab_size=len(lm.tokenizer), seed=2),
        lm.tokenizer,
        name="tiny-sandbag",
    )
    data = load_spec("eval_sandbagging").model_dump(mode="json")
    data.update(trials_per_cell=2)
    data["grid"]["n_concepts"] = 1
    data["grid"].update(variants=["neutral"], strengths=[0.0, 0.2])
    spec = validate_spec(data, "tiny")
    engine = Engine(tiny)
    ctx = Context(spec, eval_sandbagging_params(spec), tiny, engine, None)  # type: ignore[arg-type]
    solver = EvalSandbaggingSolver()
    trials = solver.build_trials(ctx)
    assert len(trials) == 6 * (1 + 2)
    mixed = trials[::2] + trials[1::2]  # noise states interleaved
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    got = solver.run_batch(ctx, mixed)
    for k, v in tiny.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    p = {t.trial_id: r.readout["p_solve"] for t, r in zip(mixed, got, strict=True)}  # type: ignore[index]
    # each noise state on its own, in its own batches, gives the same readouts
    for sigma, seed in ((0.0, 0), (0.2, 0), (0.2, 1)):
        group = [
            t for t in trials if (t.condition["sigma"], t.condition["noise_seed"]) == (sigma, seed)
        ]
        assert len(group) == 6
        alone = solver.run_batch(ctx, group)
        assert [r.readout["p_solve"] for r in alone] == [p[t.trial_id] for t in group]  # type: ignore[index]
    # the noise acts, and the seeds draw differently
    cell: dict[tuple[Any, ...], float] = {
        (t.condition["paraphrase"], t.condition["format"], t.condition["sigma"],
         t.condition["noise_seed"]): p[t.trial_id]
        for t in trials
    }  # fmt: skip
    for k in range(3):
        for fmt in ("benchmark", "chat"):
            assert cell[(k, fmt, 0.2, 0)] != cell[(k, fmt, 0.0, 0)]
            assert cell[(k, fmt, 0.2, 0)] != cell[(k, fmt, 0.2, 1)]
    # the kept prefixes were cleared around every noise state
    assert engine.stats["prefix_misses"] >= 3
