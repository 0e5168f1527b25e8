"""Statistics whose unit is a cluster (an item family): the cluster bootstrap, the partial
correlation under it, and out-of-fold predictions of a surface-feature model with the
signal added on top (incremental AUROC).

The cluster bootstrap resamples whole clusters with replacement and recomputes the
statistic on the rows they hold (percentile interval, resamples on which the statistic is
undefined dropped); with fewer than two clusters the interval is undefined (NaN). Out-of-fold
predictions are scikit-learn logistic regressions on standardized features, in stratified
folds or in folds grouped by a label, so no item is scored by a model that saw it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from introscope.stats.calibration import Values
from introscope.stats.intervals import NAN, encode_labels
from introscope.stats.weighted import (
    w_auroc,
    w_partial_r,
    weighted_bootstrap,
)

Interval = tuple[float, float, float]  # (estimate, low, high)


def residualize(v: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """Residuals of ``v`` on ``covariates`` plus an intercept (least squares; rank-deficient
    designs, such as a family dummy absent from a resample, are fine)."""
    design = (
        np.column_stack([np.ones(len(v)), covariates]) if covariates.size else np.ones((len(v), 1))
    )
    beta, *_ = np.linalg.lstsq(design, v, rcond=None)
    return v - design @ beta


def partial_r(y: np.ndarray, x: np.ndarray, covariates: np.ndarray) -> float:
    """Pearson r of the residuals of y and x on the covariates (NaN when either residual is
    constant or fewer than 3 rows)."""
    if len(y) < 3:
        return NAN
    ry, rx = residualize(y, covariates), residualize(x, covariates)
    if ry.std() < 1e-12 or rx.std() < 1e-12:
        return NAN
    return float(np.clip(np.corrcoef(ry, rx)[0, 1], -1.0, 1.0))


def clustered_partial_r(
    y: Values,
    x: Values,
    covariates: np.ndarray,
    clusters: Sequence[Hashable],
    n_boot: int = 1000,
    seed: int = 0,
) -> Interval:
    """Partial correlation of y and x given the covariate matrix ``[n, k]``, with a cluster
    bootstrap interval (computed on all resamples at once, :mod:`.weighted`)."""
    yv, xv = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    z = np.asarray(covariates, dtype=float).reshape(len(yv), -1)
    if len(yv) < 3:
        return (NAN, NAN, NAN)
    est = partial_r(yv, xv, z)
    _, low, high = weighted_bootstrap(w_partial_r(yv, xv, z), clusters, n_boot, seed)
    return (est, low, high) if np.isfinite(est) else (est, NAN, NAN)


def _folds(
    y: np.ndarray, groups: Sequence[Hashable] | None, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    if groups is not None:
        g = encode_labels(groups)
        k = min(n_folds, len(np.unique(g)))
        if k < 2:
            return []
        return list(GroupKFold(n_splits=k).split(y, y, g))
    _, counts = np.unique(y, return_counts=True)
    k = min(n_folds, int(counts.min())) if len(counts) > 1 else 0
    if k < 2:
        return []
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(y, y))


def _model(seed: int) -> object:
    return make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
    )


def out_of_fold_labels(
    features: np.ndarray,
    labels: Sequence[Hashable],
    groups: Sequence[Hashable] | None = None,
    n_folds: int = 5,
    seed: int = 0,
) -> tuple[list[Hashable], np.ndarray]:
    """Each row's predicted label and predicted probability of its *predicted* label from a
    model fitted on the other folds (a fold whose training rows hold one label predicts it).
    Rows get None when no split is possible (one label, or one group)."""
    with threadpool_limits(limits=1):  # small fits: threads cost more than they save
        return _out_of_fold_labels(features, labels, groups, n_folds, seed)


def _out_of_fold_labels(
    features: np.ndarray,
    labels: Sequence[Hashable],
    groups: Sequence[Hashable] | None,
    n_folds: int,
    seed: int,
) -> tuple[list[Hashable], np.ndarray]:
    x = np.asarray(features, dtype=float).reshape(len(labels), -1)
    codes = encode_labels(labels)
    names = list(dict.fromkeys(labels))
    lookup = {c: names[c] for c in range(len(names))}
    pred: list[Hashable] = [None] * len(codes)
    prob = np.full(len(codes), NAN)
    for train, test in _folds(codes, groups, n_folds, seed):
        seen = np.unique(codes[train])
        if len(seen) == 1:
            for i in test:
                pred[i], prob[i] = lookup[int(seen[0])], 1.0
            continue
        model = _model(seed)
        with warnings.catch_warnings():
            # Many distinct labels (first words) make scikit-learn suspect a regression
            # target; they are classes here.
            warnings.simplefilter("ignore", UserWarning)
            model.fit(x[train], codes[train])  # type: ignore[attr-defined]
        p = model.predict_proba(x[test])  # type: ignore[attr-defined]
        best = p.argmax(axis=1)
        for j, i in enumerate(test):
            pred[i], prob[i] = lookup[int(seen[best[j]])], float(p[j, best[j]])
    return pred, prob


def fit_logistic(
    x: np.ndarray, y: np.ndarray, c: float = 1.0
) -> Callable[[np.ndarray], np.ndarray]:
    """L2-penalized logistic regression on standardized features (scikit-learn's
    ``StandardScaler`` + ``LogisticRegression(C=c)`` objective: the summed log-loss plus
    ||w||^2 / (2c), intercept unpenalized), fitted by damped Newton steps in numpy (a
    scikit-learn fit costs ~100x more in input checks at these sizes); returns P(y = 1)."""
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd == 0] = 1.0

    def design(v: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(v)), (v - mean) / sd])

    d = design(x)
    pen = np.r_[0.0, np.full(d.shape[1] - 1, 1.0 / c)]

    def loss(theta: np.ndarray) -> float:
        z = d @ theta
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(pen * theta**2))

    theta = np.zeros(d.shape[1])
    current = loss(theta)
    for _ in range(100):
        p = expit(d @ theta)
        grad = d.T @ (p - y) + pen * theta
        hess = (d.T * (p * (1.0 - p))) @ d + np.diag(pen) + 1e-9 * np.eye(len(theta))
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6 and loss(theta - t * step) > current + 1e-12:
            t /= 2.0
        theta = theta - t * step
        new = loss(theta)
        if current - new < 1e-10 * (1.0 + abs(new)):
            break
        current = new
    return lambda v: expit(design(v) @ theta)


def out_of_fold_scores(
    features: np.ndarray,
    y: Values,
    groups: Sequence[Hashable] | None = None,
    n_folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold P(y = 1) of a logistic regression on ``features`` (:func:`fit_logistic`;
    NaN where no split is possible; the training rate where a training fold holds one
    class)."""
    yv = np.asarray(y, dtype=float)
    x = np.asarray(features, dtype=float).reshape(len(yv), -1)
    out = np.full(len(yv), NAN)
    for train, test in _folds(yv.astype(int), groups, n_folds, seed):
        if len(np.unique(yv[train])) == 1:
            out[test] = yv[train].mean()
            continue
        out[test] = fit_logistic(x[train], yv[train])(x[test])
    return out


@dataclass(frozen=True)
class Incremental:
    """AUROC of the surface-feature model, of surface + signal, and their difference
    (with a cluster bootstrap interval over the out-of-fold scores)."""

    base: float
    full: float
    delta: Interval
    n: int


def incremental_auroc(
    correct: Values,
    surface: np.ndarray,
    signal: Values,
    clusters: Sequence[Hashable],
    n_folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> Incremental:
    """How much a signal adds to a surface-feature model of correctness: out-of-fold
    AUROC(surface + signal) - AUROC(surface), stratified folds, clustered interval."""
    y = np.asarray(correct, dtype=float)
    s = np.asarray(signal, dtype=float)
    x = np.asarray(surface, dtype=float).reshape(len(y), -1)
    base = out_of_fold_scores(x, y, None, n_folds, seed)
    full = out_of_fold_scores(np.column_stack([x, s]), y, None, n_folds, seed)

    a_base, a_full = w_auroc(base, y), w_auroc(full, y)
    delta = weighted_bootstrap(lambda w: a_full(w) - a_base(w), clusters, n_boot, seed)
    ones = np.ones((1, len(y)))
    return Incremental(float(a_base(ones)[0]), float(a_full(ones)[0]), delta, len(y))
