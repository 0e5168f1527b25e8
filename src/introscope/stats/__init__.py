"""Statistics for self-report experiments.

Every rate carries its n and a 95% Wilson interval, every difference a CI; net scores (hit
minus matched control) are the headline. This module is the single place those numbers are
computed, so every table and plot agrees. The statistics are scipy, statsmodels and
scikit-learn calls; written out here is only what no library offers (Miller-Madow mutual
information with its baselines, MOVER, the partial correlation's Fisher-z interval with
covariate-reduced df, the cluster bootstrap over concepts and the dose-response curve with
its EC50). Everything is deterministic given a seed and returns NaN (never
raises) when a quantity is undefined for the data at hand: sweeps routinely produce empty or
degenerate cells, and a report should show "nan" rather than crash.
"""

from __future__ import annotations

from introscope.stats.calibration import aurc, auroc, brier, ece, reliability_bins
from introscope.stats.clustered import (
    Incremental,
    clustered_partial_r,
    incremental_auroc,
    out_of_fold_labels,
    out_of_fold_scores,
    partial_r,
)
from introscope.stats.dose import DoseResponse, dose_response
from introscope.stats.information import MutualInformation, mutual_information
from introscope.stats.intervals import (
    Difference,
    Rate,
    clustered_rate,
    cohens_kappa,
    lowest_passing_level,
    mean_difference_ci,
    mover_difference,
    net_score,
    paired_mean_ci,
    pearson_with_ci,
    rate,
    rate_difference,
    shift_from_constant,
    wilson_interval,
)
from introscope.stats.multiplicity import holm, holm_findings
from introscope.stats.regression import (
    Coefficient,
    RegressionResult,
    linear_regression,
    logistic_regression,
    partial_correlation,
)
from introscope.stats.resampling import (
    bootstrap_ci,
    cluster_bootstrap,
    cluster_resamples,
    permutation_test,
    sign_flip_test,
)

__all__ = [
    "Coefficient",
    "Difference",
    "DoseResponse",
    "Incremental",
    "MutualInformation",
    "Rate",
    "RegressionResult",
    "aurc",
    "auroc",
    "bootstrap_ci",
    "brier",
    "cluster_bootstrap",
    "cluster_resamples",
    "clustered_partial_r",
    "clustered_rate",
    "cohens_kappa",
    "dose_response",
    "ece",
    "holm",
    "holm_findings",
    "incremental_auroc",
    "linear_regression",
    "logistic_regression",
    "lowest_passing_level",
    "mean_difference_ci",
    "mover_difference",
    "mutual_information",
    "net_score",
    "out_of_fold_labels",
    "out_of_fold_scores",
    "paired_mean_ci",
    "partial_correlation",
    "partial_r",
    "pearson_with_ci",
    "permutation_test",
    "rate",
    "rate_difference",
    "reliability_bins",
    "shift_from_constant",
    "sign_flip_test",
    "wilson_interval",
]
