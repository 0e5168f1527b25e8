"""Tests for introscope.stats against published values and synthetic data with known truth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from introscope.headlines import undetermined, verdict
from introscope.stats import (
    Difference,
    Rate,
    bootstrap_ci,
    cluster_bootstrap,
    cohens_kappa,
    holm,
    holm_findings,
    linear_regression,
    logistic_regression,
    lowest_passing_level,
    mean_difference_ci,
    mover_difference,
    mutual_information,
    net_score,
    paired_mean_ci,
    partial_correlation,
    pearson_with_ci,
    permutation_test,
    rate,
    rate_difference,
    shift_from_constant,
    sign_flip_test,
    wilson_interval,
)

NAN = float("nan")

# --------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    ("s", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),  # Newcombe (1998) Table I
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 29, 0.0061, 0.1718),  # Newcombe (1998) Table I, 1/29
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998) Table I, 81/263
        (10, 50, 0.1124, 0.3304),
    ],
)
def test_wilson_published_values(s: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(s, n)
    assert lo == pytest.approx(low, abs=5e-4)
    assert hi == pytest.approx(high, abs=5e-4)


def test_wilson_empty_and_errors() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(1, 2, confidence=1.5)


def test_wilson_wider_at_higher_confidence() -> None:
    lo95, hi95 = wilson_interval(7, 20)
    lo99, hi99 = wilson_interval(7, 20, confidence=0.99)
    assert lo99 < lo95 < 0.35 < hi95 < hi99


def test_rate_and_str() -> None:
    r = rate(10, 50)
    assert isinstance(r, Rate)
    assert r.estimate == pytest.approx(0.2)
    assert str(r) == "0.20 [0.11, 0.33] (n=50)"
    assert math.isnan(rate(0, 0).estimate)
    assert (rate(0, 0).low, rate(0, 0).high) == (0.0, 1.0)


# --------------------------------------------------------------------------- Newcombe


def test_newcombe_textbook_example() -> None:
    # Newcombe (1998) Table II, example (a), method 10: 56/70 - 48/80.
    d = rate_difference(56, 70, 48, 80)
    assert isinstance(d, Difference)
    assert d.estimate == pytest.approx(0.2)
    assert d.low == pytest.approx(0.0524, abs=5e-4)
    assert d.high == pytest.approx(0.3339, abs=5e-4)
    assert (d.n_a, d.n_b) == (70, 80)


@pytest.mark.parametrize(
    ("counts", "low", "high"),
    [
        ((9, 10, 3, 10), 0.1705, 0.8090),  # Newcombe (1998) Table II, example (b)
        ((6, 7, 2, 7), 0.0582, 0.8062),  # example (c)
    ],
)
def test_newcombe_more_textbook_examples(
    counts: tuple[int, int, int, int], low: float, high: float
) -> None:
    d = rate_difference(*counts)
    assert d.low == pytest.approx(low, abs=5e-4)
    assert d.high == pytest.approx(high, abs=5e-4)


def test_newcombe_edge_cases() -> None:
    d = rate_difference(0, 50, 0, 50)
    assert d.estimate == 0.0 and d.low < 0.0 < d.high
    d = rate_difference(0, 0, 3, 10)
    assert math.isnan(d.estimate) and (d.low, d.high) == (-1.0, 1.0)
    assert rate_difference(10, 10, 0, 10).high <= 1.0


def test_net_score_is_hit_minus_control() -> None:
    d = net_score(rate(20, 100), rate(0, 100))
    assert d.estimate == pytest.approx(0.2)
    assert d.low > 0
    assert str(d).startswith("+0.20 [")
    assert net_score(rate(5, 100), rate(5, 100)).estimate == 0.0


def test_mover_difference_hand_computed() -> None:
    # a = 0.30 [0.10, 0.45], b = 0.10 [0.02, 0.25]; d = 0.20
    # low  = 0.20 - sqrt((0.30 - 0.10)^2 + (0.25 - 0.10)^2) = 0.20 - sqrt(0.04 + 0.0225) = -0.05
    # high = 0.20 + sqrt((0.45 - 0.30)^2 + (0.10 - 0.02)^2) = 0.20 + sqrt(0.0225 + 0.0064) = 0.37
    d, low, high = mover_difference(0.30, 0.10, 0.45, 0.10, 0.02, 0.25)
    assert (d, low, high) == pytest.approx((0.20, -0.05, 0.37), abs=1e-12)
    # a missing bound only spoils the side that uses it (b's lower bound sets the upper side)
    _, low, high = mover_difference(0.30, 0.10, 0.45, 0.10, NAN, 0.25)
    assert low == pytest.approx(-0.05, abs=1e-12) and math.isnan(high)


def test_mover_of_wilson_intervals_is_newcombe() -> None:
    # Newcombe's method 10 is MOVER applied to two Wilson intervals: same textbook numbers.
    d, low, high = mover_difference(
        56 / 70, *wilson_interval(56, 70), 48 / 80, *wilson_interval(48, 80)
    )
    ref = rate_difference(56, 70, 48, 80)
    assert (d, low, high) == pytest.approx((ref.estimate, ref.low, ref.high), abs=1e-12)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-4)


# --------------------------------------------------------------------------- means


def test_welch_against_scipy() -> None:
    from scipy import stats as st

    a = [5.1, 4.9, 6.2, 5.8, 6.0, 5.5, 5.3]
    b = [4.1, 4.6, 4.3, 5.0, 3.9]
    d = mean_difference_ci(a, b)
    res = st.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    assert d.estimate == pytest.approx(np.mean(a) - np.mean(b))
    assert d.low == pytest.approx(ci.low)
    assert d.high == pytest.approx(ci.high)


def test_welch_degenerate() -> None:
    assert math.isnan(mean_difference_ci([], [1.0]).estimate)
    d = mean_difference_ci([1.0], [0.0, 1.0])
    assert d.estimate == pytest.approx(0.5) and math.isnan(d.low)
    d = mean_difference_ci([2.0, 2.0], [1.0, 1.0])
    assert (d.low, d.estimate, d.high) == (1.0, 1.0, 1.0)


def test_welch_with_one_constant_side_hand_computed() -> None:
    # a = [1, 2, 3]: mean 2, var 1, se^2 = 1/3; b = [0.5, 0.5]: var 0, so d = 1.5 and
    # df = (1/3)^2 / ((1/3)^2 / 2) = 2, t(0.975, 2) = 4.302653: 1.5 +- 4.302653 * sqrt(1/3)
    # = 1.5 +- 2.484138. No warning: scipy's "nearly identical data" alarm is a false one for
    # an exactly constant side.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = mean_difference_ci([1.0, 2.0, 3.0], [0.5, 0.5])
    assert (d.estimate, d.low, d.high) == pytest.approx((1.5, -0.984138, 3.984138), abs=1e-6)


def test_paired_mean_ci() -> None:
    from scipy import stats as st

    diffs = [0.3, 0.1, 0.4, 0.2, 0.5, -0.1]
    d = paired_mean_ci(diffs)
    ci = st.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    assert d.low == pytest.approx(ci.low) and d.high == pytest.approx(ci.high)
    assert d.n_a == d.n_b == 6
    assert math.isnan(paired_mean_ci([]).estimate)


def test_bootstrap_deterministic_and_covers_mean() -> None:
    values = list(np.random.default_rng(3).normal(10.0, 2.0, size=200))
    est, lo, hi = bootstrap_ci(values, seed=7)
    assert (est, lo, hi) == bootstrap_ci(values, seed=7)
    assert lo < est < hi
    assert lo < 10.0 < hi
    assert hi - lo == pytest.approx(2 * 1.96 * 2.0 / math.sqrt(200), rel=0.3)
    est_med, lo_med, hi_med = bootstrap_ci(values, statistic=np.median, seed=7)
    assert lo_med <= est_med <= hi_med
    assert all(math.isnan(v) for v in bootstrap_ci([]))


def test_bootstrap_skips_undefined_resamples_and_single_value() -> None:
    # a statistic undefined on some resamples (all zeros) still gets an interval from the rest
    def mean_if_any_one(x: np.ndarray) -> float:
        return float(x.mean()) if x.any() else NAN

    est, lo, hi = bootstrap_ci([0.0, 0.0, 0.0, 0.0, 1.0], statistic=mean_if_any_one)
    assert est == pytest.approx(0.2)
    assert 0.2 <= lo <= est <= hi <= 1.0
    assert bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)


def test_permutation_test() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 1.0, 40)
    b = rng.normal(0.0, 1.0, 40)
    obs, p = permutation_test(a, b, n_permutations=2000)
    assert obs == pytest.approx(a.mean() - b.mean())
    assert p < 0.01
    assert permutation_test(a, b, n_permutations=2000) == (obs, p)  # seeded
    _, p_null = permutation_test(rng.normal(size=40), rng.normal(size=40), n_permutations=2000)
    assert p_null > 0.05
    # identical samples: every permutation is at least as extreme -> p == 1
    assert permutation_test([1.0, 2.0], [1.0, 2.0], n_permutations=100)[1] == 1.0
    obs_med, _ = permutation_test([1, 2, 10], [0, 0, 1], statistic="median_diff", n_permutations=50)
    assert obs_med == 2.0
    with pytest.raises(ValueError):
        permutation_test([1.0], [2.0], statistic="nope")


def test_permutation_test_exact_enumeration() -> None:
    # 4 values, 6 ways to split them 2 vs 2 (fewer than n_permutations, so all are used):
    # {1,2}|{3,4}: -2, {1,3}: -1, {1,4}: 0, {2,3}: 0, {2,4}: +1, {3,4}|{1,2}: +2.
    # |d| >= 2 in 2 of 6, so p = 1/3 exactly (no +1 smoothing for an exact test).
    obs, p = permutation_test([1.0, 2.0], [3.0, 4.0], n_permutations=100)
    assert obs == -2.0
    assert p == pytest.approx(1 / 3, abs=1e-12)
    custom = permutation_test(
        [1.0, 2.0], [3.0, 4.0], statistic=lambda u, v: float(u.sum() - v.sum()), n_permutations=100
    )
    assert custom == pytest.approx((-4.0, 1 / 3), abs=1e-12)


def test_pearson_with_ci() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = 0.6 * x + 0.8 * rng.normal(size=300)  # true r = 0.6
    r, lo, hi = pearson_with_ci(x, y)
    assert lo < 0.6 < hi and lo < r < hi
    r3, lo3, hi3 = pearson_with_ci([1, 2, 3], [2, 1, 3])
    assert r3 == pytest.approx(0.5) and math.isnan(lo3) and math.isnan(hi3)
    assert all(math.isnan(v) for v in pearson_with_ci([1, 1, 1, 1], [1, 2, 3, 4]))
    with pytest.raises(ValueError):
        pearson_with_ci([1, 2], [1])


def test_fisher_z_interval_value() -> None:
    # build data with r exactly 0.5 at n=28 by mixing an orthogonalised pair
    rng = np.random.default_rng(2)
    u = rng.normal(size=28)
    v = rng.normal(size=28)
    u = (u - u.mean()) / u.std()
    v = v - v.mean()
    v = v - (v @ u) / (u @ u) * u
    v = v / v.std()
    y = 0.5 * u + math.sqrt(0.75) * v
    r, lo, hi = pearson_with_ci(u, y)
    assert r == pytest.approx(0.5)
    assert (lo, hi) == pytest.approx((0.156, 0.736), abs=1e-3)
    z, se = math.atanh(0.5), 1 / 5
    assert lo == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-4)
    assert hi == pytest.approx(math.tanh(z + 1.959964 * se), abs=1e-4)


# --------------------------------------------------------------------------- partial r


def test_partial_correlation_hand_computed() -> None:
    # A group dummy as the covariate: residualising on it centres x and y within each group.
    #   x residuals: [-1.5, -0.5, 0.5, 1.5] in both groups, sum of squares 10
    #   y residuals: [-0.5, -1.5, 1.5, 0.5] and [-1.5, 0.5, -0.5, 1.5], sum of squares 10
    #   cross products: 4 * 0.75 = 3 and 2.25 - 0.25 - 0.25 + 2.25 = 4, so r = 7 / 10 = 0.7
    # Fisher z: atanh(0.7) = 0.867301, SE = 1 / sqrt(8 - 3 - 1) = 0.5,
    #   low = tanh(0.867301 - 0.979982) = -0.112207, high = tanh(1.847283) = 0.951489.
    x = [1.0, 2.0, 3.0, 4.0, 11.0, 12.0, 13.0, 14.0]
    y = [2.0, 1.0, 4.0, 3.0, 10.0, 12.0, 11.0, 13.0]
    group = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    r, lo, hi, n = partial_correlation(y, x, {"group": group})
    assert n == 8
    assert r == pytest.approx(0.7, abs=1e-12)
    assert (lo, hi) == pytest.approx((-0.112207, 0.951489), abs=1e-6)
    assert pearson_with_ci(x, y)[0] > 0.98  # the raw correlation is mostly the group gap


def test_partial_correlation_first_order_formula() -> None:
    # one covariate: r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))
    rng = np.random.default_rng(6)
    z = rng.normal(size=60)
    x = z + rng.normal(size=60)
    y = 0.5 * x - z + rng.normal(size=60)
    c = np.corrcoef([x, y, z])
    expected = (c[0, 1] - c[0, 2] * c[1, 2]) / math.sqrt((1 - c[0, 2] ** 2) * (1 - c[1, 2] ** 2))
    r, lo, hi, n = partial_correlation(y, x, {"z": z})
    assert n == 60
    assert r == pytest.approx(expected, abs=1e-12)
    se = 1 / math.sqrt(60 - 3 - 1)
    assert lo == pytest.approx(math.tanh(math.atanh(expected) - 1.959964 * se), abs=1e-6)
    assert hi == pytest.approx(math.tanh(math.atanh(expected) + 1.959964 * se), abs=1e-6)
    # no covariates: the plain Pearson r and its Fisher-z interval
    assert partial_correlation(y, x, {})[:3] == pytest.approx(pearson_with_ci(x, y), abs=1e-12)


def test_partial_correlation_degenerate() -> None:
    assert all(math.isnan(v) for v in partial_correlation([1.0, 2.0], [2.0, 1.0], {})[:3])
    # y is a linear function of the covariate: nothing is left to correlate
    r = partial_correlation(
        [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 3.0, 2.0, 5.0, 4.0], {"z": [1, 2, 3, 4, 5]}
    )
    assert all(math.isnan(v) for v in r[:3]) and r[3] == 5
    # n - 3 - k = 0: r but no interval
    r4, lo4, hi4, _ = partial_correlation(
        [1.0, 3.0, 2.0, 5.0], [2.0, 1.0, 4.0, 3.0], {"z": [0, 0, 1, 1]}
    )
    assert not math.isnan(r4) and math.isnan(lo4) and math.isnan(hi4)
    with pytest.raises(ValueError):
        partial_correlation([1.0, 2.0], [1.0], {})


# --------------------------------------------------------------------------- kappa


def test_kappa_hand_computed_table() -> None:
    # 2x2 table: yes/yes 20, yes/no 5, no/yes 10, no/no 15 (n=50)
    # po = 35/50 = 0.7; pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohens_kappa(a, b) == pytest.approx(0.4)


def test_kappa_edge_cases() -> None:
    assert cohens_kappa([True, False, True], [True, False, True]) == pytest.approx(1.0)
    assert cohens_kappa([1, 1, 1], [1, 1, 1]) == 1.0  # one class, identical
    assert math.isnan(cohens_kappa([], []))
    assert cohens_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohens_kappa([1], [1, 0])


def test_kappa_mixed_label_types() -> None:
    # a = [None, a, None, b], b = [None, a, b, b]: po = 3/4
    # pe = (2/4)(1/4) [None] + (1/4)(1/4) [a] + (1/4)(2/4) [b] = 5/16; kappa = (12/16 - 5/16) / (11/16)
    assert cohens_kappa([None, "a", None, "b"], [None, "a", "b", "b"]) == pytest.approx(7 / 11)


# --------------------------------------------------------------------------- MI


def test_mi_perfectly_informative() -> None:
    x = [f"c{i}" for i in range(8) for _ in range(100)]
    mi = mutual_information(x, list(x))
    assert mi.plugin_bits == pytest.approx(3.0, abs=0.02)
    assert mi.max_bits == pytest.approx(3.0)
    assert mi.n == 800
    assert mi.p_value == pytest.approx(1 / 201)
    assert mi.shuffled_p95_bits < 0.2
    assert mi.ci_low <= mi.corrected_bits <= mi.ci_high


def test_mi_permuted_labels_still_informative() -> None:
    # a relabelling (bijection) carries the same information
    x = [i % 5 for i in range(500)]
    y = ["abcde"[(i + 2) % 5] for i in range(500)]
    assert mutual_information(x, y).plugin_bits == pytest.approx(math.log2(5), abs=1e-9)


def test_mi_independent_labels() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 8, 800).tolist()
    y = rng.integers(0, 8, 800).tolist()
    mi = mutual_information(x, y, seed=0)
    assert mi.plugin_bits > mi.corrected_bits  # Miller-Madow removes positive bias
    assert mi.corrected_bits == pytest.approx(0.0, abs=0.05)
    assert mi.p_value > 0.05
    assert mi.ci_low < 0.0 < mi.ci_high
    assert mi == mutual_information(x, y, seed=0)  # deterministic


def test_mi_miller_madow_formula_and_no_correction() -> None:
    x = ["a", "a", "b", "b", "a", "b"]
    y = [None, "u", "u", "u", None, "v"]
    mi = mutual_information(x, y, n_shuffles=10, n_boot=10)
    # K_xy = 4 (a-None, a-u, b-u, b-v), K_x = 2, K_y = 3
    bias = (4 - 2 - 3 + 1) / (2 * 6 * math.log(2))
    assert mi.corrected_bits == pytest.approx(mi.plugin_bits - bias)
    raw = mutual_information(x, y, correction="none", n_shuffles=10, n_boot=10)
    assert raw.corrected_bits == raw.plugin_bits
    with pytest.raises(ValueError):
        mutual_information(x, y, correction="jackknife")
    with pytest.raises(ValueError):
        mutual_information(x, y[:-1])
    assert math.isnan(mutual_information([], []).plugin_bits)


def test_mi_reference_value() -> None:
    # x = a a a b b b, y = u v u u v w (n = 6). Cells: (a,u) 2, (a,v) 1, (b,u) 1, (b,v) 1, (b,w) 1.
    # H(x) = 1; H(y) = 1/2 log2 2 + 1/3 log2 3 + 1/6 log2 6 = 0.5 + 0.528321 + 0.430827 = 1.459148
    # H(x,y) = 1/3 log2 3 + 4 * 1/6 log2 6 = 0.528321 + 1.723308 = 2.251629
    # plugin = 1 + 1.459148 - 2.251629 = 0.207519 bits
    # Miller-Madow: (K_xy - K_x - K_y + 1) / (2 n ln 2) = (5 - 2 - 3 + 1) / (12 ln 2) = 0.120225
    # corrected = 0.207519 - 0.120225 = 0.087294
    mi = mutual_information(list("aaabbb"), list("uvuuvw"), n_shuffles=10, n_boot=10)
    assert mi.plugin_bits == pytest.approx(0.207519, abs=1e-6)
    assert mi.corrected_bits == pytest.approx(0.087294, abs=1e-6)
    assert mi.max_bits == 1.0


def test_mi_corrected_not_clamped() -> None:
    rng = np.random.default_rng(5)
    values = [
        mutual_information(
            rng.integers(0, 3, 40).tolist(),
            rng.integers(0, 3, 40).tolist(),
            n_shuffles=0,
            n_boot=0,
        ).corrected_bits
        for _ in range(10)
    ]
    assert min(values) < 0.0


# --------------------------------------------------------------------------- regression


def test_linear_regression_recovers_coefficients() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    z = rng.normal(size=300)
    y = 1.0 + 2.0 * x - 0.5 * z + rng.normal(size=300)
    res = linear_regression(y, {"x": x, "z": z})
    assert res.n == 300 and res.converged and res.method == "ols"
    for name, truth in [("intercept", 1.0), ("x", 2.0), ("z", -0.5)]:
        c = res[name]
        assert c.ci_low < truth < c.ci_high
        assert c.estimate == pytest.approx(truth, abs=0.2)
    assert res["x"].p < 1e-10
    assert 0.7 < res.r2 < 0.9
    rows = res.table()
    assert [r["name"] for r in rows] == ["intercept", "x", "z"]
    assert set(rows[0]) == {"name", "estimate", "se", "ci_low", "ci_high", "p"}
    with pytest.raises(KeyError):
        res["missing"]


def test_linear_regression_matches_scipy_linregress() -> None:
    from scipy import stats as st

    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    y = [1.1, 1.9, 3.2, 3.9, 5.3, 5.8]
    ref = st.linregress(x, y)
    res = linear_regression(y, {"x": x})
    assert res["x"].estimate == pytest.approx(ref.slope)
    assert res["x"].se == pytest.approx(ref.stderr)
    assert res["x"].p == pytest.approx(ref.pvalue)
    assert res.r2 == pytest.approx(ref.rvalue**2)


def test_linear_regression_underdetermined_and_bad_input() -> None:
    res = linear_regression([1.0, 2.0], {"x": [0.0, 1.0]})
    assert res["x"].estimate == pytest.approx(1.0)
    assert math.isnan(res["x"].se)
    with pytest.raises(ValueError):
        linear_regression([1.0, 2.0, 3.0], {"x": [0.0, 1.0]})
    no_icpt = linear_regression([2.0, 4.0, 6.1], {"x": [1.0, 2.0, 3.0]}, add_intercept=False)
    assert [c.name for c in no_icpt.coefficients] == ["x"]
    assert math.isnan(linear_regression([], {"x": []})["x"].estimate)


def test_linear_regression_rank_deficient_design() -> None:
    # A constant column next to the intercept adds nothing: the slope, its SE and p are those
    # of the simple regression (residual df = n - rank = 4, not n - k = 3).
    from scipy import stats as st

    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    y = [1.1, 1.9, 3.2, 3.9, 5.3, 5.8]
    ref = st.linregress(x, y)
    res = linear_regression(y, {"x": x, "constant": [1.0] * 6})
    assert res["x"].estimate == pytest.approx(ref.slope)
    assert res["x"].se == pytest.approx(ref.stderr)
    assert res["x"].p == pytest.approx(ref.pvalue)


def test_logistic_regression_recovers_coefficients() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=2000)
    p = 1 / (1 + np.exp(-(-0.5 + 1.5 * x)))
    y = (rng.random(2000) < p).astype(int)
    res = logistic_regression(y, {"x": x})
    assert res.converged and res.method == "logit"
    assert res["intercept"].ci_low < -0.5 < res["intercept"].ci_high
    assert res["x"].ci_low < 1.5 < res["x"].ci_high
    assert res["x"].p < 1e-10
    assert 0.0 < res.r2 < 1.0


def test_logistic_regression_perfect_separation_does_not_crash() -> None:
    res = logistic_regression([0, 0, 0, 1, 1, 1], {"x": [1, 2, 3, 4, 5, 6]})
    assert res.converged is False
    assert res["x"].estimate > 0
    assert math.isnan(res["x"].se)
    constant = logistic_regression([0, 0, 0, 0], {"x": [1, 2, 3, 4]})
    assert constant.converged is False
    assert math.isnan(constant.r2)
    # a duplicated column: the design does not identify the coefficients
    singular = logistic_regression(
        [0, 1, 0, 1, 1, 0], {"x": [1, 2, 3, 4, 5, 6], "x2": [2, 4, 6, 8, 10, 12]}
    )
    assert singular.converged is False
    assert all(math.isnan(c.estimate) and math.isnan(c.se) for c in singular.coefficients)
    with pytest.raises(ValueError):
        logistic_regression([0, 2], {"x": [1, 2]})


# --------------------------------------------------------------------------- thresholds


def test_lowest_passing_level() -> None:
    levels = [8.0, 1.0, 2.0, 4.0]
    hits = [(30, 50), (1, 50), (5, 50), (12, 50)]
    controls = [(0, 50)] * 4
    # 5/50 vs 0/50 is the first to pass: Newcombe lower bound ~ +0.009; 4/50 gives ~ -0.006
    assert rate_difference(5, 50, 0, 50).low > 0
    assert rate_difference(4, 50, 0, 50).low < 0
    assert lowest_passing_level(levels, hits, controls) == 2.0


def test_lowest_passing_level_none_and_errors() -> None:
    assert lowest_passing_level([1.0, 2.0], [(1, 50), (2, 50)], [(1, 50), (2, 50)]) is None
    assert lowest_passing_level([], [], []) is None
    # a high control rate can stop a level from passing
    assert lowest_passing_level([1.0, 2.0], [(10, 50), (10, 50)], [(10, 50), (0, 50)]) == 2.0
    with pytest.raises(ValueError):
        lowest_passing_level([1.0], [(1, 2)], [])


def test_shift_from_constant_is_one_sample_against_a_deterministic_reference() -> None:
    """A one-trial (or repeated, identical) reference is a constant: the interval is the
    one-sample t interval of the values minus it; a reference that varies is a sample."""
    values = [0.5, 0.6, 0.7, 0.65]
    d = shift_from_constant(values, [0.3])
    ref = paired_mean_ci([v - 0.3 for v in values])
    assert (d.estimate, d.low, d.high, d.n_a, d.n_b) == (ref.estimate, ref.low, ref.high, 4, 1)
    assert shift_from_constant(values, [0.3, 0.3, 0.3]).low == ref.low
    assert math.isnan(mean_difference_ci(values, [0.3]).low)  # what Welch gave
    varying = shift_from_constant(values, [0.2, 0.4, 0.3])
    welch = mean_difference_ci(values, [0.2, 0.4, 0.3])
    assert (varying.low, varying.high) == (welch.low, welch.high)
    one = shift_from_constant([0.5], [0.3])
    assert math.isclose(one.estimate, 0.2) and math.isnan(one.low)
    assert math.isnan(shift_from_constant([], [0.3]).estimate)
    assert math.isnan(shift_from_constant([0.5], []).estimate)


def test_verdict_never_reads_a_missing_interval() -> None:
    args = ("above", "covers", "below")
    assert verdict(0.1, 0.3, *args) == "above"
    assert verdict(-0.1, 0.3, *args) == "covers"
    assert verdict(-0.3, -0.1, *args) == "below"
    assert verdict(-0.3, -0.1, "above", "covers") == "covers"
    assert verdict(float("nan"), 0.3, *args) == undetermined()
    assert verdict(None, None, *args, unit="trials") == undetermined("trials")
    assert undetermined().startswith("undetermined")
    assert verdict(0.4, 0.6, *args, null=0.5) == "covers"  # against a null other than 0


# --------------------------------------------------------------------------- the concept as unit


def concept_data(
    concept_sd: float, seed: int, n_concepts: int = 30, per: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """``per`` trials for each of ``n_concepts`` concepts: a concept effect with sd
    ``concept_sd`` plus trial noise with sd 1."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_concepts), per)
    y = rng.normal(0, concept_sd, n_concepts)[groups] + rng.normal(0, 1, len(groups))
    return y, groups


def test_cluster_bootstrap_matches_the_textbook_standard_error() -> None:
    # Equal-size clusters: the cluster bootstrap variance of the grand mean is the plug-in
    # variance of the cluster means over G (Davison & Hinkley 1997, section 3.8).
    y, g = concept_data(1.0, seed=0, n_concepts=40)
    means = np.array([y[g == k].mean() for k in range(40)])
    se = math.sqrt(means.var(ddof=0) / 40)
    est, lo, hi = cluster_bootstrap(lambda r: float(y[r].mean()), g, n_boot=8000, seed=1)
    assert est == pytest.approx(y.mean())
    assert (hi - lo) / (2 * 1.959964 * se) == pytest.approx(1.0, abs=0.06)
    assert cluster_bootstrap(lambda r: float(y[r].mean()), g, n_boot=500, seed=1) == (
        cluster_bootstrap(lambda r: float(y[r].mean()), g, n_boot=500, seed=1)
    )


def mean_widths(concept_sd: float) -> tuple[float, float, float, float]:
    """Mean widths over seeds: (cluster bootstrap, trial bootstrap, clustered OLS slope,
    classical OLS slope) on data whose predictor is constant within a concept."""
    out = np.zeros(4)
    for seed in range(8):
        y, g = concept_data(concept_sd, seed)
        _, lo, hi = cluster_bootstrap(lambda r, y=y: float(y[r].mean()), g, n_boot=600, seed=seed)
        _, lo2, hi2 = bootstrap_ci(y, n_boot=600, seed=seed)
        x = np.random.default_rng(100 + seed).normal(size=g.max() + 1)[g]
        c = linear_regression(y, {"x": x}, groups=g)["x"]
        n = linear_regression(y, {"x": x})["x"]
        out += [hi - lo, hi2 - lo2, c.ci_high - c.ci_low, n.ci_high - n.ci_low]
    return tuple(out / 8)  # type: ignore[return-value]


def test_clustered_intervals_are_wider_with_concept_effects_and_equal_without() -> None:
    cb, tb, cr, ols = mean_widths(concept_sd=1.0)
    assert cb > 1.5 * tb and cr > 1.5 * ols  # trials of a concept are not independent
    cb, tb, cr, ols = mean_widths(concept_sd=0.0)
    assert cb == pytest.approx(tb, rel=0.15) and cr == pytest.approx(ols, rel=0.2)


def test_clustered_regressions_keep_estimates_and_need_two_clusters() -> None:
    y, g = concept_data(1.0, seed=3)
    x = np.random.default_rng(0).normal(size=len(y))
    a, b = linear_regression(y, {"x": x}), linear_regression(y, {"x": x}, groups=g)
    assert a["x"].estimate == pytest.approx(b["x"].estimate) and a.r2 == pytest.approx(b.r2)
    one = linear_regression(y, {"x": x}, groups=[0] * len(y))
    assert math.isnan(one["x"].se) and not math.isnan(one["x"].estimate)
    yb = (y > 0).astype(float)
    la, lb = logistic_regression(yb, {"x": x}), logistic_regression(yb, {"x": x}, groups=g)
    assert la["x"].estimate == pytest.approx(lb["x"].estimate) and lb.converged
    with pytest.raises(ValueError):
        linear_regression(y, {"x": x}, groups=[0, 1])


def test_partial_correlation_cluster_bootstrap_interval() -> None:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 5)
    shared = rng.normal(size=20)[g]  # both variables move with the concept
    y, x = shared + rng.normal(size=100), shared + rng.normal(size=100)
    r, lo, hi, n = partial_correlation(y, x, {})
    rc, loc, hic, _ = partial_correlation(y, x, {}, groups=g)
    assert r == rc and n == 100 and loc <= r <= hic
    assert hic - loc > 1.3 * (hi - lo)
    assert math.isnan(partial_correlation(y, x, {}, groups=[0] * 100)[1])


def test_mi_bootstrap_resamples_concepts() -> None:
    rng = np.random.default_rng(0)
    x = [f"c{i}" for i in range(8) for _ in range(20)]
    # each concept has its own favourite report: trials of a concept are strongly dependent
    fav = {f"c{i}": f"r{rng.integers(0, 3)}" for i in range(8)}
    y = [fav[c] if rng.random() < 0.8 else f"r{rng.integers(0, 3)}" for c in x]
    by_trial = mutual_information(x, y, n_shuffles=0, n_boot=400, seed=0)
    by_concept = mutual_information(x, y, n_shuffles=0, n_boot=400, seed=0, clusters=x)
    assert by_trial.corrected_bits == by_concept.corrected_bits
    assert by_concept.ci_high - by_concept.ci_low > by_trial.ci_high - by_trial.ci_low
    one = mutual_information(x[:20], y[:20], n_shuffles=0, clusters=x[:20])
    assert math.isnan(one.ci_low)


def test_holm_constructed_case() -> None:
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> max(0.06, 0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adj = holm([0.01, NAN, 0.02])  # an undetermined test is not counted among the m
    assert adj[0] == pytest.approx(0.02) and math.isnan(adj[1]) and adj[2] == pytest.approx(0.02)
    assert holm_findings([0.01, 0.04, 0.03, 0.005]) == [True, False, False, True]
    assert holm([]) == []


def test_holm_equals_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    # Few calls: each multipletests call runs gc.collect() (the reason holm is numpy).
    for m in (1, 2, 7, 40):
        p = rng.uniform(0, 0.2, m)
        p[rng.integers(0, m)] = p[0]  # ties
        assert holm(list(p)) == list(multipletests(p, method="holm")[1])


def test_paired_and_welch_intervals_carry_p_values() -> None:
    d = paired_mean_ci([0.1, 0.2, 0.3, 0.4])
    assert d.p == pytest.approx(0.0305, abs=1e-3)  # t = 0.25 / (0.1291 / 2) = 3.873, df 3
    assert paired_mean_ci([0.2, 0.2]).p == 0.0 and paired_mean_ci([0.0, 0.0]).p == 1.0
    assert math.isnan(paired_mean_ci([0.2]).p)
    w = mean_difference_ci([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    assert 0 < w.p < 0.2


def test_sign_flip_test_exact_enumeration() -> None:
    # 2^5 = 32 sign patterns; |mean| >= the observed 0.19 for all signs positive, all
    # negative, and the same two with -0.05 flipped: p = 4 / 32.
    assert sign_flip_test([0.3, 0.1, 0.4, 0.2, -0.05]) == pytest.approx(0.125)
    assert sign_flip_test([0.5, 0.6, 0.7, 0.8, 0.9, 1.0]) == pytest.approx(2 / 64)
    assert math.isnan(sign_flip_test([0.3]))


def test_clustered_rate_widens_with_agreement_within_items() -> None:
    from introscope.stats import clustered_rate

    # One trial per item: Wilson's interval up to the k/(k-1) small-sample factor.
    one = clustered_rate([1] * 6 + [0] * 14, [1] * 20)
    lo, hi = wilson_interval(6, 20)
    assert one.estimate == pytest.approx(0.3)
    assert one.low < lo < hi < one.high and one.high - one.low < 1.1 * (hi - lo)
    # 10 items x 6 trials, each item all-or-nothing: 60 trials carry what 10 items do.
    allnone = clustered_rate([6] * 3 + [0] * 7, [6] * 10)
    lo10, hi10 = wilson_interval(3, 10)
    assert allnone.estimate == pytest.approx(0.3)
    assert allnone.low == pytest.approx(lo10, abs=0.03) and allnone.high == pytest.approx(
        hi10, abs=0.03
    )
    # Trials that vary within items as much as between them: close to Wilson over trials.
    rng = np.random.default_rng(0)
    y = rng.random((40, 6)) < 0.3
    mixed = clustered_rate(y.sum(1), [6] * 40)
    lo_t, hi_t = wilson_interval(int(y.sum()), 240)
    assert mixed.high - mixed.low == pytest.approx(hi_t - lo_t, rel=0.25)
    # Every trial agrees: the items are the n.
    zero = clustered_rate([0] * 5, [4] * 5)
    assert (
        zero.estimate == 0
        and zero.low == 0
        and zero.high == pytest.approx(wilson_interval(0, 5)[1])
    )
    assert math.isnan(clustered_rate([], []).estimate)
