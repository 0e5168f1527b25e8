"""The all-at-once cluster bootstrap (:mod:`introscope.stats.weighted`) against resampling
row indices: the same resamples give the same numbers, for every weighted statistic."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from introscope.stats import aurc, auroc, brier, cluster_bootstrap, ece, partial_r
from introscope.stats.weighted import (
    cluster_picks,
    cluster_weights,
    w_aurc,
    w_auroc,
    w_brier,
    w_ece,
    w_mean,
    w_partial_r,
    w_pearson,
    w_slope,
    weighted_bootstrap,
)

RNG = np.random.default_rng(3)
N, FAMILIES = 90, 9
FAM = [f"f{i % FAMILIES}" for i in range(N)]
X = RNG.normal(size=N)
Y = 0.5 * X + RNG.normal(size=N)
Z = np.column_stack([RNG.normal(size=N), (np.arange(N) % FAMILIES == 0).astype(float)])
C = RNG.random(N)
CORRECT = (RNG.random(N) < C).astype(float)


def pearson(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.corrcoef(y, x)[0, 1])


def slope(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0])


CASES: list[tuple[str, Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]] = [
    ("mean", lambda i: float(X[i].mean()), w_mean(X)),
    ("pearson", lambda i: pearson(Y[i], X[i]), w_pearson(Y, X)),
    ("partial_r", lambda i: partial_r(Y[i], X[i], Z[i]), w_partial_r(Y, X, Z)),
    ("slope", lambda i: slope(Y[i], X[i]), w_slope(Y, X)),
    ("auroc", lambda i: auroc(C[i], CORRECT[i]), w_auroc(C, CORRECT)),
    ("brier", lambda i: brier(C[i], CORRECT[i]), w_brier(C, CORRECT)),
    ("ece", lambda i: ece(C[i], CORRECT[i]), w_ece(C, CORRECT)),
    (
        "ece_adaptive",
        lambda i: ece(C[i], CORRECT[i], adaptive=True),
        w_ece(C, CORRECT, adaptive=True),
    ),
    ("aurc", lambda i: aurc(C[i], CORRECT[i]), w_aurc(C, CORRECT)),
]


@pytest.mark.parametrize(("name", "rows", "weighted"), CASES, ids=[c[0] for c in CASES])
def test_weighted_statistic_equals_resampled_rows(
    name: str,
    rows: Callable[[np.ndarray], float],
    weighted: Callable[[np.ndarray], np.ndarray],
) -> None:
    labels = np.asarray([int(f[1:]) for f in FAM])
    picks = cluster_picks(FAMILIES, 40, seed=5)
    groups = [np.flatnonzero(labels == g) for g in range(FAMILIES)]
    direct = [rows(np.concatenate([groups[g] for g in p])) for p in picks]
    assert weighted(cluster_weights(labels, picks)) == pytest.approx(direct, abs=1e-9)
    assert weighted(np.ones((1, N)))[0] == pytest.approx(rows(np.arange(N)), abs=1e-9)
    assert weighted_bootstrap(weighted, FAM, 200, seed=1) == pytest.approx(
        cluster_bootstrap(rows, FAM, 200, seed=1), abs=1e-9
    )


def test_undefined_resamples_and_too_few_clusters() -> None:
    y = np.array([1.0, 1.0, 0.0, 0.0])
    s = np.array([0.9, 0.8, 0.1, 0.2])
    one_class_per_family = w_auroc(s, y)
    est, lo, hi = weighted_bootstrap(one_class_per_family, ["a", "a", "b", "b"], 100)
    assert est == 1.0 and np.isnan(lo) and np.isnan(hi)  # most resamples lack a class
    est, lo, hi = weighted_bootstrap(w_mean(s), ["a"] * 4, 100)
    assert est == pytest.approx(0.5) and np.isnan(lo) and np.isnan(hi)
    assert np.isnan(weighted_bootstrap(w_mean(s), [], 100)[0])
    w = np.array([[1.0, 1.0, 0.0, 0.0]])
    assert np.isnan(w_pearson(s, s)(w)[0])  # fewer than 3 rows


def test_numpy_logistic_matches_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from introscope.stats.clustered import fit_logistic

    x = np.column_stack([X, Z, 3.0 * X + 1.0])  # a collinear column too
    ref = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, tol=1e-10))
    ref.fit(x, CORRECT)
    assert fit_logistic(x, CORRECT)(x) == pytest.approx(ref.predict_proba(x)[:, 1], abs=1e-4)
    separable = (X > 0).astype(float)  # penalized: finite, confident, no overflow
    p = fit_logistic(X[:, None], separable)(X[:, None])
    assert np.all(np.isfinite(p)) and np.mean((p > 0.5) == (separable == 1)) > 0.95
