"""Linear probes on constructed activations: an answer planted linearly is read out of fold
(accuracy about 1, the planted layer chosen), labels unrelated to the activations give chance,
and the raw-space probe equals scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from introscope.experiments.cot.probes import (
    best_layer,
    first_decodable,
    fit_probe,
    group_folds,
    majority_correct,
    nested_predictions,
    permuted,
    shuffled_correct,
)

N, L, D = 72, 3, 8
FAMILIES = [f"f{i % 6}" for i in range(N)]
AB = [frozenset({"A", "B"})] * N


@pytest.fixture(autouse=True)
def one_thread() -> object:
    with threadpool_limits(1):  # BLAS threads only slow small fits on shared cores
        yield


def planted(seed: int = 0, layer: int = 1, scale: float = 2.0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = [str(v) for v in rng.choice(["A", "B"], size=N)]
    x = rng.normal(size=(N, L, D))
    mu = rng.normal(size=D)
    mu *= scale / np.linalg.norm(mu) * 2
    for i, lab in enumerate(y):
        x[i, layer] += mu if lab == "A" else -mu
    return x, y


def test_a_planted_answer_is_read_out_of_fold_at_its_layer() -> None:
    x, y = planted()
    pred = nested_predictions(x, y, FAMILIES, AB)
    acc = np.nanmean(pred.correct(y))
    assert acc >= 0.95
    assert set(pred.layer) == {1}
    assert best_layer(x, y, FAMILIES, AB) == 1
    assert np.nanmean(pred.p_true) > 0.85


def test_unrelated_labels_give_chance() -> None:
    rng = np.random.default_rng(1)
    accs = []
    for rep in range(2):
        x = rng.normal(size=(N, 2, D))
        y = [str(v) for v in rng.choice(["A", "B"], size=N)]
        accs.append(np.nanmean(nested_predictions(x, y, FAMILIES, AB, seed=rep).correct(y)))
    assert abs(float(np.mean(accs)) - 0.5) < 0.13  # 144 predictions: SD about 0.042


def test_shuffled_labels_break_a_planted_answer() -> None:
    x, y = planted(2)
    shuf = shuffled_correct(x[:, :2], y, FAMILIES, AB, n_shuffles=2)
    assert abs(float(np.nanmean(shuf)) - 0.5) < 0.15


def test_majority_baseline_by_hand() -> None:
    y = ["A", "A", "B", "A", "B", "B"]
    fam = ["f0", "f0", "f1", "f1", "f2", "f2"]
    # Held-out f0: training labels B, A, B, B -> B, wrong twice; f1: A, A, B, B -> tie, the
    # first label (A) wins -> A right, B wrong; f2: A, A, B, A -> A -> both wrong.
    assert list(majority_correct(y, fam, [frozenset("AB")] * 6)) == [0, 0, 0, 1, 0, 0]


def test_permutation_stays_within_label_sets() -> None:
    y = ["A", "B", "C", "Yes", "No", "Yes"]
    allowed = [frozenset("ABCD")] * 3 + [frozenset({"Yes", "No"})] * 3
    p = permuted(y, allowed, np.random.default_rng(0))
    assert sorted(p[:3]) == ["A", "B", "C"] and sorted(p[3:]) == ["No", "Yes", "Yes"]


def test_predictions_stay_among_the_item_labels() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 1, D))
    y = ["A", "B", "Yes", "No"] * 10
    allowed = [
        frozenset("AB"),
        frozenset("AB"),
        frozenset({"Yes", "No"}),
        frozenset({"Yes", "No"}),
    ] * 10
    fam = [f"f{i % 5}" for i in range(40)]
    pred = nested_predictions(x, y, fam, allowed)
    for p, ok in zip(pred.predicted, allowed, strict=True):
        assert p in ok


def test_the_raw_space_probe_is_scikit_learns() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, D)) * rng.uniform(0.5, 3, size=D) + 2.0
    y = [str(v) for v in rng.choice(["A", "B", "C"], size=60)]
    probe = fit_probe(x, y)
    scaler = StandardScaler().fit(x)
    ref = LogisticRegression(max_iter=1000).fit(scaler.transform(x), y)
    want = ref.predict_proba(scaler.transform(x))
    got = probe.probabilities(x, [frozenset("ABC")] * 60)
    assert np.allclose([[g[c] for c in ref.classes_] for g in got], want, atol=1e-6)
    # Binary probes too, and their direction raises the target's log-odds.
    yb = ["A" if v > 0 else "B" for v in x[:, 0] - 2.0]
    pb = fit_probe(x, yb)
    u = pb.direction("B", "A")
    assert np.isclose(np.linalg.norm(u), 1.0)
    before = pb.logits(x[:1])[0]
    after = pb.logits(x[:1] + u)[0]
    assert (after[0] - after[1]) > (before[0] - before[1])


def test_one_label_gives_a_constant_probe() -> None:
    probe = fit_probe(np.ones((4, D)), ["A"] * 4)
    assert probe.probabilities(np.zeros((1, D)), [frozenset("AB")]) == [{"A": 1.0}]


def test_first_decodable_position() -> None:
    rng = np.random.default_rng(5)
    y = [str(v) for v in rng.choice(["A", "B"], size=N)]
    mu = np.ones(D) * 1.5
    seqs = []
    for i, lab in enumerate(y):
        # The other answer for the first (i % 4) positions, then this one through the end.
        k = i % 4
        s = rng.normal(size=(6, D)) * 0.3
        sign = 1.0 if lab == "A" else -1.0
        s[:k] -= sign * mu
        s[k:] += sign * mu
        seqs.append(s)
    first = first_decodable(seqs, y, FAMILIES, AB)
    hits = [f == i % 4 for i, f in enumerate(first) if f is not None]
    assert len(hits) >= N - 2 and np.mean(hits) >= 0.9


def test_no_folds_with_one_family() -> None:
    assert group_folds(["f"] * 5) == []
    x, y = planted()
    pred = nested_predictions(x, y, ["f"] * N, AB)
    assert all(p is None for p in pred.predicted) and np.isnan(pred.correct(y)).all()
