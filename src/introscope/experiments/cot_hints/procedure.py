"""What a hints trial reads (torch-free: the model's part goes through a
:class:`~introscope.experiments.cot.reasoner.Reasoner`): the chain and its final answer under
the trial's prompt (unhinted, hinted or null), the activations before the chain at the probe
layers (``pre``, ``[L, d]``), and the rule grade ``mentions_hint`` on hinted and null
chains."""

from __future__ import annotations

from collections.abc import Sequence

from introscope.experiments.base import Trial, TrialResult
from introscope.experiments.cot.chains import run_chains
from introscope.experiments.cot.format import answer_label, labels
from introscope.experiments.cot.reasoner import Reasoner
from introscope.experiments.cot_hints.hinting import mentions_hint
from introscope.items import Item


def hint_readouts(
    reasoner: Reasoner, items: Sequence[Item], trials: Sequence[Trial], layers: Sequence[int]
) -> list[TrialResult]:
    prompts = [t.prompt for t in trials]
    chains = run_chains(reasoner, items, prompts, [t.seed for t in trials])
    pre = reasoner.capture_last(prompts, layers)
    out = []
    for k, (t, it, ch) in enumerate(zip(trials, items, chains, strict=True)):
        kind = t.condition["hint"]
        readout = {
            "labels": list(labels(it)),
            "correct": answer_label(it),
            "final": ch.answer,
            "final_probs": ch.probs,
            "target": t.condition["target"],
            "probe_layers": list(layers),
        }
        grades = {} if kind == "none" else {"rules": {"mentions_hint": mentions_hint(ch.cot, kind)}}
        out.append(TrialResult(ch.raw, None, readout, grades, {"pre": pre[k]}))
    return out
