"""Linear probes that read an answer out of activations (torch-free: numpy and scikit-learn).

A probe is scikit-learn's logistic regression on standardized activations, turned back into
raw-activation units (:class:`LinearProbe`: one weight row and bias per class), so its class
directions can be added to the residual stream. Every accuracy is out of fold, with folds
grouped by item family (no family is scored by a probe that saw it), and a prediction is
restricted to the labels the item offers (a yes/no item is never answered "C").

* :func:`nested_predictions`: the layer is chosen inside each outer fold, by inner folds over
  the training families only, so the reported accuracy is that of a procedure that picks its
  layer without seeing the items it is scored on;
* :func:`majority_correct` and :func:`shuffled_correct`: the baselines (the training fold's
  most frequent label; the same nested procedure on labels permuted among items with the
  same label set);
* :func:`first_decodable`: along a chain's tokens, the first position from which the probe's
  prediction is the final answer at every later position.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from introscope.stats.intervals import encode_labels

Allowed = Sequence[frozenset[str]]
N_FOLDS = 5
INNER_FOLDS = 4


@dataclass(frozen=True)
class LinearProbe:
    """``logit_k(x) = weights[k] @ x + bias[k]`` over ``classes`` (raw activations)."""

    classes: tuple[str, ...]
    weights: np.ndarray  # [K, d]
    bias: np.ndarray  # [K]

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.weights.T + self.bias

    def probabilities(self, x: np.ndarray, allowed: Allowed) -> list[dict[str, float]]:
        """Per row, the softmax over the classes the row allows (empty when it allows none
        the probe knows)."""
        z = self.logits(np.atleast_2d(x))
        out: list[dict[str, float]] = []
        for row, ok in zip(z, allowed, strict=True):
            keep = [k for k, c in enumerate(self.classes) if c in ok]
            if not keep:
                out.append({})
                continue
            v = row[keep] - row[keep].max()
            p = np.exp(v) / np.exp(v).sum()
            out.append({self.classes[k]: float(pk) for k, pk in zip(keep, p, strict=True)})
        return out

    def direction(self, source: str, target: str) -> np.ndarray:
        """The unit vector along which ``logit(target) - logit(source)`` grows fastest."""
        w = self.weights[self.classes.index(target)] - self.weights[self.classes.index(source)]
        norm = float(np.linalg.norm(w))
        return w / norm if norm > 0 else w


def fit_probe(x: np.ndarray, y: Sequence[str], seed: int = 0) -> LinearProbe:
    """A logistic probe of ``y`` on ``x`` ``[n, d]`` (one class: a constant probe)."""
    classes = tuple(sorted(set(y)))
    d = x.shape[1]
    if len(classes) == 1:
        return LinearProbe(classes, np.zeros((1, d)), np.zeros(1))
    # Standardized as scikit-learn's StandardScaler does (population SD, constant columns
    # left unscaled), in numpy: the scaler's own overhead doubles the cost of a small fit.
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    scale = np.where(sd > 0, sd, 1.0)
    z = (x - mean) / scale
    model = LogisticRegression(max_iter=1000, C=1.0, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(z, list(y))
    coef, icpt = model.coef_, model.intercept_
    if len(classes) == 2:  # one row for classes[1] against classes[0]
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        icpt = np.array([0.0, icpt[0]])
    weights = coef / scale
    bias = icpt - weights @ mean
    assert tuple(model.classes_) == classes
    return LinearProbe(classes, weights, bias)


def group_folds(
    groups: Sequence[Hashable], n_folds: int = N_FOLDS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs with whole groups held out (none with fewer than 2)."""
    g = encode_labels(groups)
    k = min(n_folds, len(np.unique(g)))
    if k < 2:
        return []
    idx = np.arange(len(g))
    return list(GroupKFold(n_splits=k).split(idx, idx, g))


@dataclass(frozen=True)
class Predictions:
    """Out-of-fold predictions: the predicted label, the probability the probe gives the
    true label, and the layer used (-1 and NaN where the item was never predicted)."""

    predicted: list[str | None]
    p_true: np.ndarray
    layer: np.ndarray

    def correct(self, y: Sequence[str]) -> np.ndarray:
        """1 / 0 per item (NaN where never predicted)."""
        return np.array(
            [np.nan if p is None else float(p == t) for p, t in zip(self.predicted, y, strict=True)]
        )


def _predict(
    probe: LinearProbe, x: np.ndarray, y: Sequence[str], allowed: Allowed
) -> list[tuple[str | None, float]]:
    out: list[tuple[str | None, float]] = []
    for probs, t in zip(probe.probabilities(x, allowed), y, strict=True):
        if not probs:
            out.append((None, np.nan))
            continue
        out.append((max(probs, key=lambda k: probs[k]), probs.get(t, 0.0)))
    return out


def layer_predictions(
    x: np.ndarray, y: Sequence[str], groups: Sequence[Hashable], allowed: Allowed, seed: int = 0
) -> Predictions:
    """Out-of-fold predictions at one layer (``x`` is ``[n, d]``)."""
    n = len(y)
    pred: list[str | None] = [None] * n
    p_true = np.full(n, np.nan)
    for train, test in group_folds(groups):
        probe = fit_probe(x[train], [y[i] for i in train], seed)
        got = _predict(probe, x[test], [y[i] for i in test], [allowed[i] for i in test])
        for i, (p, q) in zip(test, got, strict=True):
            pred[i], p_true[i] = p, q
    return Predictions(pred, p_true, np.where(np.isnan(p_true), -1, 0))


def best_layer(
    x: np.ndarray,
    y: Sequence[str],
    groups: Sequence[Hashable],
    allowed: Allowed,
    seed: int = 0,
    n_folds: int = INNER_FOLDS,
) -> int:
    """The layer (index into ``x``'s second axis) with the best out-of-fold accuracy in
    folds grouped by family (the first on ties; the last layer when no split exists)."""
    best, best_acc = x.shape[1] - 1, -1.0
    folds = group_folds(groups, n_folds)
    if not folds:
        return best
    for layer in range(x.shape[1]):
        hits: list[float] = []
        for train, test in folds:
            probe = fit_probe(x[train, layer], [y[i] for i in train], seed)
            got = _predict(probe, x[test, layer], [y[i] for i in test], [allowed[i] for i in test])
            hits += [float(p == y[i]) for i, (p, _) in zip(test, got, strict=True)]
        acc = float(np.mean(hits)) if hits else -1.0
        if acc > best_acc:
            best, best_acc = layer, acc
    return best


def nested_predictions(
    x: np.ndarray, y: Sequence[str], groups: Sequence[Hashable], allowed: Allowed, seed: int = 0
) -> Predictions:
    """Out-of-fold predictions from ``x`` ``[n, L, d]`` with the layer chosen inside each
    outer fold on its training families (``layer`` holds the index into L per item)."""
    n = len(y)
    pred: list[str | None] = [None] * n
    p_true = np.full(n, np.nan)
    chosen = np.full(n, -1)
    for train, test in group_folds(groups):
        tr_y = [y[i] for i in train]
        layer = best_layer(
            x[train], tr_y, [groups[i] for i in train], [allowed[i] for i in train], seed
        )
        probe = fit_probe(x[train, layer], tr_y, seed)
        got = _predict(probe, x[test, layer], [y[i] for i in test], [allowed[i] for i in test])
        for i, (p, q) in zip(test, got, strict=True):
            pred[i], p_true[i], chosen[i] = p, q, layer
    return Predictions(pred, p_true, chosen)


def majority_correct(y: Sequence[str], groups: Sequence[Hashable], allowed: Allowed) -> np.ndarray:
    """1 / 0 per item: does the training fold's most frequent label (among items with the
    same label set) equal the item's? NaN where the item was never in a test fold."""
    out = np.full(len(y), np.nan)
    for train, test in group_folds(groups):
        for i in test:
            same = [y[j] for j in train if allowed[j] == allowed[i]] or [y[j] for j in train]
            labs, counts = np.unique(same, return_counts=True)
            out[i] = float(labs[int(np.argmax(counts))] == y[i])
    return out


def permuted(y: Sequence[str], allowed: Allowed, rng: np.random.Generator) -> list[str]:
    """``y`` permuted among items with the same label set."""
    out = list(y)
    strata: dict[frozenset[str], list[int]] = {}
    for i, a in enumerate(allowed):
        strata.setdefault(a, []).append(i)
    for idx in strata.values():
        vals = [y[i] for i in idx]
        for i, v in zip(idx, rng.permutation(np.array(vals, dtype=object)), strict=True):
            out[i] = str(v)
    return out


def shuffled_correct(
    x: np.ndarray,
    y: Sequence[str],
    groups: Sequence[Hashable],
    allowed: Allowed,
    n_shuffles: int = 3,
    seed: int = 0,
) -> np.ndarray:
    """Per item, the mean over ``n_shuffles`` label permutations of whether the nested
    procedure (``x`` ``[n, L, d]``) predicts the permuted label: the accuracy a probe reaches
    when labels carry no information about the activations."""
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(n_shuffles):
        ys = permuted(y, allowed, rng)
        runs.append(nested_predictions(x, ys, groups, allowed, seed).correct(ys))
    return np.nanmean(np.vstack(runs), axis=0) if runs else np.full(len(y), np.nan)


def first_decodable(
    sequences: Sequence[np.ndarray],
    y: Sequence[str],
    groups: Sequence[Hashable],
    allowed: Allowed,
    seed: int = 0,
) -> list[int | None]:
    """Per item, the first position (index into its ``[P_i, d]`` sequence) from which the
    out-of-fold probe, trained on every position of the training families' items, predicts
    the item's label at every later position; None when the last position is wrong or the
    item was never in a test fold."""
    out: list[int | None] = [None] * len(y)
    for train, test in group_folds(groups):
        xs = np.vstack([sequences[i] for i in train])
        ys = [y[i] for i in train for _ in range(len(sequences[i]))]
        probe = fit_probe(xs, ys, seed)
        for i in test:
            seq = sequences[i]
            got = _predict(probe, seq, [y[i]] * len(seq), [allowed[i]] * len(seq))
            ok = [p == y[i] for p, _ in got]
            if not ok or not ok[-1]:
                continue
            first = len(ok) - 1
            while first > 0 and ok[first - 1]:
                first -= 1
            out[i] = first
    return out
