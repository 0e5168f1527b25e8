"""Calibration and discrimination of a confidence signal against correctness.

AUROC is the Mann-Whitney U of the scores of correct vs incorrect items over n1 * n0 (U
from average ranks; ties count one half, the same value as scikit-learn's
``roc_auc_score``). ECE is sum_b |B|/n |accuracy(B) - mean confidence(B)| over fixed
equal-width bins or adaptive equal-mass bins; Brier is the mean squared difference between
confidence and correctness; AURC is the area under the risk-coverage curve: items sorted by
confidence (highest first, ties in input order), the error rate among the k most confident,
averaged over k = 1..n (Geifman & El-Yaniv 2017). Every function returns NaN (never raises)
when its quantity is undefined (no items; AUROC with one class).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from introscope.stats.intervals import NAN

#: Numbers as a sequence or a numpy array.
Values = Sequence[float] | Sequence[bool] | np.ndarray


def _arrays(scores: Values, correct: Values) -> tuple[np.ndarray, ...]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(correct, dtype=float)
    if s.shape != y.shape:
        raise ValueError("scores and correct must have the same length")
    return s, y


def auroc(scores: Values, correct: Values) -> float:
    """P(score of a correct item > score of an incorrect one) + 0.5 P(tie)."""
    s, y = _arrays(scores, correct)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return NAN
    # U of the correct items from their average ranks (what scipy's mannwhitneyu computes,
    # without its input checks: this runs thousands of times inside bootstraps).
    ranks = average_ranks(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u) / (len(pos) * len(neg))


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (``scipy.stats.rankdata``'s
    "average" method)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    return (upper - (counts - 1) / 2.0)[inverse]


def bin_edges(confidence: np.ndarray, n_bins: int, adaptive: bool) -> np.ndarray:
    """Edges of ``n_bins`` bins over [0, 1]: equal width, or (adaptive) the quantiles of
    ``confidence`` so that every bin holds about the same number of items."""
    if not adaptive:
        return np.linspace(0.0, 1.0, n_bins + 1)
    edges = np.quantile(confidence, np.linspace(0.0, 1.0, n_bins + 1))
    edges[0], edges[-1] = 0.0, 1.0
    return edges


def bin_index(confidence: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each confidence: bins are (e_i, e_{i+1}], the first one [0, e_1]."""
    return np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, len(edges) - 2)


def ece(
    confidence: Values,
    correct: Values,
    n_bins: int = 10,
    adaptive: bool = False,
) -> float:
    """Expected calibration error with ``n_bins`` equal-width (or adaptive equal-mass)
    bins; confidences must lie in [0, 1]."""
    c, y = _arrays(confidence, correct)
    if len(c) == 0:
        return NAN
    if np.any((c < 0) | (c > 1)):
        raise ValueError("confidences must lie in [0, 1]")
    idx = bin_index(c, bin_edges(c, n_bins, adaptive))
    total = 0.0
    for b in np.unique(idx):
        m = idx == b
        total += m.sum() / len(c) * abs(y[m].mean() - c[m].mean())
    return float(total)


def brier(confidence: Values, correct: Values) -> float:
    c, y = _arrays(confidence, correct)
    return float(np.mean((c - y) ** 2)) if len(c) else NAN


def aurc(confidence: Values, correct: Values) -> float:
    """Area under the risk-coverage curve (lower is better; the error rate for a
    confidence that carries no information)."""
    c, y = _arrays(confidence, correct)
    if len(c) == 0:
        return NAN
    order = np.argsort(-c, kind="stable")
    errors = np.cumsum(1.0 - y[order])
    return float(np.mean(errors / np.arange(1, len(c) + 1)))


def reliability_bins(
    confidence: Values, correct: Values, n_bins: int = 10
) -> list[tuple[int, float, float, int]]:
    """(bin, mean confidence, accuracy, count) for every non-empty equal-width bin."""
    c, y = _arrays(confidence, correct)
    if len(c) == 0:
        return []
    idx = bin_index(c, bin_edges(c, n_bins, adaptive=False))
    return [
        (int(b), float(c[idx == b].mean()), float(y[idx == b].mean()), int((idx == b).sum()))
        for b in np.unique(idx)
    ]
