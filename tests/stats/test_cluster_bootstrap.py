"""The cluster bootstrap resamples whole concepts: on data whose concepts differ it is wider
than a bootstrap of trials, on data whose concepts do not it is about as wide, and with one
cluster it has no interval."""

from __future__ import annotations

import math

import numpy as np

from introscope.stats.resampling import cluster_bootstrap, cluster_resamples


def concept_data(seed: int, concept_sd: float) -> tuple[np.ndarray, list[int]]:
    """20 concepts x 10 trials: a concept effect (sd ``concept_sd``) plus trial noise (sd 1)."""
    rng = np.random.default_rng(seed)
    effects = rng.normal(0.0, concept_sd, 20)
    values = np.concatenate([e + rng.normal(0.0, 1.0, 10) for e in effects])
    return values, [c for c in range(20) for _ in range(10)]


def widths(values: np.ndarray, clusters: list[int], seed: int) -> tuple[float, float]:
    stat = lambda rows: float(values[rows].mean())  # noqa: E731
    _, lo, hi = cluster_bootstrap(stat, clusters, n_boot=400, seed=seed)
    _, tlo, thi = cluster_bootstrap(stat, list(range(len(values))), n_boot=400, seed=seed)
    return hi - lo, thi - tlo


def test_the_concept_bootstrap_is_wider_than_the_trial_bootstrap_when_concepts_differ() -> None:
    ratios = []
    for seed in range(20):
        values, clusters = concept_data(seed, concept_sd=1.0)
        concept, trial = widths(values, clusters, seed)
        ratios.append(concept / trial)
    # Design effect 1 + (m - 1) * ICC = 1 + 9 * 0.5 = 5.5: intervals ~2.3x wider.
    assert min(ratios) > 1.5 and 1.8 < float(np.median(ratios)) < 3.0


def test_without_concept_effects_the_two_agree() -> None:
    ratios = []
    for seed in range(20):
        values, clusters = concept_data(seed, concept_sd=0.0)
        concept, trial = widths(values, clusters, seed)
        ratios.append(concept / trial)
    assert 0.8 < float(np.median(ratios)) < 1.2


def test_the_estimate_uses_every_row_and_one_cluster_has_no_interval() -> None:
    values = np.array([1.0, 2.0, 3.0, 6.0])
    est, lo, hi = cluster_bootstrap(lambda r: float(values[r].mean()), ["a", "a", "b", "b"])
    assert est == 3.0 and lo <= est <= hi
    est, lo, hi = cluster_bootstrap(lambda r: float(values[r].mean()), ["a"] * 4)
    assert est == 3.0 and math.isnan(lo) and math.isnan(hi)
    assert cluster_resamples(["a"] * 4) == []
    assert all(math.isnan(x) for x in cluster_bootstrap(lambda r: 0.0, []))


def test_resamples_keep_whole_clusters_and_are_seeded() -> None:
    clusters = ["x", "y", "y", "z", "z", "z"]
    draws = cluster_resamples(clusters, n_boot=50, seed=3)
    assert len(draws) == 50
    for rows in draws:
        picked = [clusters[i] for i in rows]
        for c in set(picked):  # every drawn cluster comes with all its rows, k times over
            assert picked.count(c) % clusters.count(c) == 0
    again = cluster_resamples(clusters, n_boot=50, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(draws, again, strict=True))


def test_a_statistic_undefined_on_most_resamples_has_no_interval() -> None:
    values = np.array([0.0, 0.0, 1.0])

    def stat(rows: np.ndarray) -> float:
        return float(values[rows].mean()) if len(set(rows.tolist())) == 3 else math.nan

    est, lo, hi = cluster_bootstrap(stat, [0, 1, 2], n_boot=200)
    assert est == 1 / 3 and math.isnan(lo) and math.isnan(hi)
