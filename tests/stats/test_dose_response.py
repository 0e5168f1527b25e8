"""The dose-response fit: a logistic in log2(strength) with a planted EC50 is recovered, its
concept-bootstrap interval covers the planted value in about 95% of seeded repeats and is
wider than a bootstrap of points when concepts differ; degenerate inputs give NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from introscope.stats.dose import MIN_CLUSTERS, dose_response, emax_curve, fit_emax

STRENGTHS = np.array([1.0, 2.0, 4.0, 8.0, 16.0])


def planted(
    seed: int,
    n: int = 12,
    ec50: float = 4.0,
    emax: float = 0.6,
    hill: float = 1.5,
    trials: int = 1,
) -> tuple[list[float], list[float], list[int]]:
    """``n`` concepts, each with its own EC50 (log2 sd 0.3 around ``ec50``), ``trials``
    noisy trials per concept and strength."""
    rng = np.random.default_rng(seed)
    s: list[float] = []
    y: list[float] = []
    c: list[int] = []
    for k in range(n):
        own = ec50 * 2 ** float(rng.normal(0.0, 0.3))
        for _ in range(trials):
            curve = emax_curve(STRENGTHS, own, emax, hill)
            y += list(curve + rng.normal(0.0, 0.05, len(STRENGTHS)))
            s += list(STRENGTHS)
            c += [k] * len(STRENGTHS)
    return s, y, c


@pytest.mark.parametrize(("ec50", "emax", "hill"), [(4.0, 0.6, 1.5), (2.5, -0.4, 3.0)])
def test_a_noiseless_curve_is_recovered(ec50: float, emax: float, hill: float) -> None:
    fit = fit_emax(np.log2(STRENGTHS), emax_curve(STRENGTHS, ec50, emax, hill))
    assert fit is not None
    assert 2**fit.log2_ec50 == pytest.approx(ec50, rel=0.02)
    assert fit.emax == pytest.approx(emax, abs=0.01)
    assert fit.hill == pytest.approx(hill, rel=0.2)


def test_the_planted_ec50_is_covered_in_about_95_percent_of_repeats() -> None:
    covered, estimates = 0, []
    repeats = 40
    for seed in range(repeats):
        s, y, c = planted(seed)
        d = dose_response(s, y, c, n_boot=400, seed=seed)
        covered += d.ec50_low <= 4.0 <= d.ec50_high
        estimates.append(math.log2(d.ec50))
        assert d.emax_low > 0 and d.n_clusters == 12 and d.in_range
    # The percentile interval of 12 resampled concepts runs a little narrow: >= 85%.
    assert covered / repeats >= 0.85
    assert abs(float(np.median(estimates)) - 2.0) < 0.1


def test_the_concept_bootstrap_is_wider_than_a_bootstrap_of_trials() -> None:
    """Concepts differ in EC50 and each has 8 trials per strength: resampling trials treats
    a concept's trials as independent draws and understates the uncertainty, which is
    mostly between concepts."""
    ratios = []
    for seed in range(10):
        s, y, c = planted(seed, trials=8)
        by_concept = dose_response(s, y, c, n_boot=400, seed=seed)
        by_point = dose_response(s, y, list(range(len(s))), n_boot=400, seed=seed)
        assert by_concept.ec50 == by_point.ec50  # the same fit, only the interval differs
        ratios.append(
            math.log2(by_concept.ec50_high / by_concept.ec50_low)
            / math.log2(by_point.ec50_high / by_point.ec50_low)
        )
    assert float(np.median(ratios)) > 1.3 and min(ratios) > 1.0


def test_a_negative_effect_has_a_negative_plateau() -> None:
    s, y, c = planted(0, emax=-0.5)
    d = dose_response(s, y, c, n_boot=300)
    assert d.emax_high < 0 and d.ec50_low <= 4.0 <= d.ec50_high


def test_no_effect_leaves_the_plateau_covering_zero() -> None:
    rng = np.random.default_rng(1)
    s = list(STRENGTHS) * 12
    c = [k for k in range(12) for _ in STRENGTHS]
    d = dose_response(s, list(rng.normal(0.0, 0.05, len(s))), c, n_boot=300)
    assert d.emax_low < 0 < d.emax_high


def test_degenerate_inputs() -> None:
    # Two strengths cannot identify three parameters.
    two = dose_response([2.0, 4.0] * 6, [0.1, 0.3] * 6, [k // 2 for k in range(12)])
    assert math.isnan(two.ec50) and math.isnan(two.ec50_low) and two.n_clusters == 6
    # Fewer concepts than MIN_CLUSTERS: a fit, but no interval.
    s, y, c = planted(0, n=MIN_CLUSTERS - 1)
    few = dose_response(s, y, c)
    assert not math.isnan(few.ec50) and math.isnan(few.ec50_low) and math.isnan(few.emax_high)
    # Non-finite effects are left out; a strength of 0 has no log.
    s, y, c = planted(0)
    y[0] = math.nan
    assert dose_response(s, y, c, n_boot=50).n_points == len(s) - 1
    with pytest.raises(ValueError, match="positive strengths"):
        dose_response([0.0, 1.0, 2.0], [0.0, 0.1, 0.2], [0, 1, 2])
    with pytest.raises(ValueError, match="same length"):
        dose_response([1.0, 2.0], [0.0], [0, 1])
