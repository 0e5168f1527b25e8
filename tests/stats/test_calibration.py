"""Calibration metrics and cluster statistics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from introscope.stats import (
    aurc,
    auroc,
    brier,
    cluster_bootstrap,
    clustered_partial_r,
    ece,
    incremental_auroc,
    out_of_fold_labels,
    out_of_fold_scores,
    partial_r,
    reliability_bins,
)
from introscope.stats.calibration import average_ranks


def test_auroc_textbook_and_ties() -> None:
    # scikit-learn's documented example: 0.75.
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # A tie between a correct and an incorrect item counts one half: (1 + 0.5) / 2.
    assert auroc([0.5, 0.9, 0.5], [0, 1, 1]) == pytest.approx(0.75)
    assert math.isnan(auroc([0.2, 0.3], [1, 1]))
    rng = np.random.default_rng(0)
    s, y = rng.random(200), rng.random(200) < 0.4
    assert auroc(s, y) == pytest.approx(roc_auc_score(y, s))
    ties = rng.integers(0, 5, 200).astype(float)
    assert np.array_equal(average_ranks(ties), rankdata(ties))
    assert auroc(ties, y) == pytest.approx(roc_auc_score(y, ties))


def test_ece_fixed_and_adaptive_by_hand() -> None:
    conf = [0.9, 0.9, 0.9, 0.9, 0.1, 0.1]
    correct = [1, 1, 1, 0, 0, 0]
    # bin (0.8, 0.9]: accuracy 0.75 vs 0.9 over 4 of 6; bin [0, 0.1]: 0 vs 0.1 over 2 of 6.
    assert ece(conf, correct) == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.1)
    # Two equal-mass bins over [0.1, 0.2, 0.6, 0.7]: {0.1, 0.2} and {0.6, 0.7}.
    c2, y2 = [0.1, 0.2, 0.6, 0.7], [0, 1, 1, 1]
    assert ece(c2, y2, n_bins=2, adaptive=True) == pytest.approx(
        0.5 * abs(0.5 - 0.15) + 0.5 * abs(1.0 - 0.65)
    )
    # A perfectly calibrated signal (accuracy equals confidence in each bin): 0.
    assert ece([0.5, 0.5, 1.0, 1.0], [1, 0, 1, 1]) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        ece([1.2], [1])
    assert math.isnan(ece([], []))


def test_brier_aurc_and_bins_by_hand() -> None:
    assert brier([0.8, 0.3], [1, 0]) == pytest.approx((0.04 + 0.09) / 2)
    # Sorted by confidence: correct, wrong, correct, wrong -> risks 0, 1/2, 1/3, 2/4.
    assert aurc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx((0 + 0.5 + 1 / 3 + 0.5) / 4)
    # A perfect ranking of 2 correct over 2 wrong: risks 0, 0, 1/3, 2/4.
    assert aurc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == pytest.approx((0 + 0 + 1 / 3 + 0.5) / 4)
    bins = reliability_bins([0.05, 0.95, 0.91], [0, 1, 0])
    assert bins == [(0, 0.05, 0.0, 1), (9, pytest.approx(0.93), 0.5, 2)]


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    # Every cluster has the same mean: any resample of clusters gives the same mean.
    x = np.array([1.0, 3.0, 1.0, 3.0, 1.0, 3.0])
    est, lo, hi = cluster_bootstrap(lambda i: x[i].mean(), ["a", "a", "b", "b", "c", "c"])
    assert (est, lo, hi) == (2.0, 2.0, 2.0)
    # Within-row resampling would vary; one row per cluster is the ordinary bootstrap.
    est, lo, hi = cluster_bootstrap(lambda i: x[i].mean(), list(range(6)))
    assert lo < 2.0 < hi
    # One cluster: no interval.
    e, lo1, hi1 = cluster_bootstrap(lambda i: x[i].mean(), ["a"] * 6)
    assert e == 2.0 and math.isnan(lo1) and math.isnan(hi1)


def test_partial_r_removes_the_covariate() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    z = rng.normal(size=n)
    e = rng.normal(size=n)
    x = z + e
    y = 2 * z + rng.normal(size=n)  # related to x only through z
    assert abs(np.corrcoef(x, y)[0, 1]) > 0.5
    assert abs(partial_r(y, x, z[:, None])) < 0.06
    # y = e + noise of equal variance: partial r given z is 1/sqrt(2).
    y2 = e + rng.normal(size=n)
    r, lo, hi = clustered_partial_r(y2, x, z[:, None], np.arange(n) % 40, n_boot=300)
    assert r == pytest.approx(1 / math.sqrt(2), abs=0.04)
    assert lo < r < hi and lo > 0.6


def test_out_of_fold_predictions_and_incremental_auroc() -> None:
    rng = np.random.default_rng(2)
    n = 600
    surface = rng.normal(size=(n, 2))
    hidden = rng.normal(size=n)
    correct = (surface[:, 0] + 1.5 * hidden + rng.normal(size=n)) > 0
    fam = np.arange(n) % 12
    scores = out_of_fold_scores(surface, correct)
    assert np.isfinite(scores).all() and 0.6 < auroc(scores, correct) < 0.8
    inc = incremental_auroc(correct, surface, hidden, fam, n_boot=300)
    assert inc.delta[0] > 0.1 and inc.delta[1] > 0.05
    # A signal that is a surface feature adds nothing: delta about 0, interval covers 0.
    dup = incremental_auroc(correct, surface, surface[:, 0], fam, n_boot=300)
    assert abs(dup.delta[0]) < 0.02 and dup.delta[1] <= 0 <= dup.delta[2]
    # Grouped folds: a label predicted from its feature, on groups never seen in training.
    labels = ["hi" if v > 0 else "lo" for v in surface[:, 1]]
    pred, prob = out_of_fold_labels(surface, labels, groups=fam)
    assert np.mean([p == t for p, t in zip(pred, labels, strict=True)]) > 0.9
    assert np.all((prob >= 0.5) & (prob <= 1.0))
    pred1, _ = out_of_fold_labels(surface, labels, groups=[0] * n)
    assert pred1 == [None] * n
