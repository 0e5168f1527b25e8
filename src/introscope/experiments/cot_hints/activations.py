"""The activation side of the hints experiment (torch-free).

A probe of the *unhinted* final answers, read from the unhinted activations before the chain
(out of fold, folds grouped by family, the layer chosen on each training fold's families),
is applied to the same item's hinted activation. The shift toward the hint is

    delta = logit p(target | hinted activation) - logit p(target | unhinted activation)

in the probe's log-odds of the hinted label (among the item's labels): positive when the
activations before the chain have moved toward the hinted answer, whatever the chain will
say. No hinted run trains the probe, so the shift is not fitted to the hint.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from introscope.experiments.cot.probes import Allowed, best_layer, fit_probe, group_folds

EPS = 1e-6


def _logit(p: float) -> float:
    q = min(max(p, EPS), 1.0 - EPS)
    return float(np.log(q / (1.0 - q)))


def hint_shifts(
    unhinted: np.ndarray,
    y: Sequence[str],
    groups: Sequence[Hashable],
    allowed: Allowed,
    hinted: Mapping[str, np.ndarray],
    targets: Sequence[str],
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per hint kind, each item's delta (NaN where the item has no hinted run of that kind,
    marked by a NaN activation row, or the probe does not know the target). ``unhinted``
    and each ``hinted[kind]`` are ``[n, L, d]``."""
    n = len(y)
    out = {kind: np.full(n, np.nan) for kind in hinted}
    for train, test in group_folds(groups):
        tr_y = [y[i] for i in train]
        layer = best_layer(
            unhinted[train], tr_y, [groups[i] for i in train], [allowed[i] for i in train], seed
        )
        probe = fit_probe(unhinted[train, layer], tr_y, seed)
        test_allowed = [allowed[i] for i in test]
        base = probe.probabilities(unhinted[test, layer], test_allowed)
        for kind, acts in hinted.items():
            rows = acts[test, layer]
            ok = np.isfinite(rows).all(axis=1)
            probs = probe.probabilities(np.where(ok[:, None], rows, 0.0), test_allowed)
            for j, i in enumerate(test):
                t = targets[i]
                if ok[j] and t in probs[j] and t in base[j]:
                    out[kind][i] = _logit(probs[j][t]) - _logit(base[j][t])
    return out
