"""The hand-labelled set and the rule grader's agreement with it (grading.validation)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from introscope.grading.validation import (
    CRITERIA,
    KAPPA_TARGET,
    LABELS_PATH,
    LabelledResponse,
    agreement_rows,
    governing,
    kappa,
    load_labels,
    low_trust_note,
    measure,
    shipped_agreement,
)
from introscope.headlines import Headline, low_trust
from introscope.stats import cohens_kappa

DETECTION = {"coherent", "affirmative"}
INJECTED = DETECTION | {"correct_concept", "noticed_first"}


@pytest.fixture(scope="module")
def items() -> list[LabelledResponse]:
    return load_labels()


def test_labelled_set_covers_the_experiments(items: list[LabelledResponse]) -> None:
    assert len(items) >= 250
    assert len({it.id for it in items}) == len(items)
    by_kind = Counter((it.experiment, it.control) for it in items)
    for kind, controls in {
        "detection": ("none", "concept", "random", "negated"),
        "prefill": ("none", "match", "other"),
        "yes_bias": ("none", "concept", "random", "negated"),
    }.items():
        for control in controls:
            assert by_kind[(kind, control)] >= 10, (kind, control)
    # one model, several layers and strengths
    raw = [json.loads(line) for line in LABELS_PATH.read_text().splitlines()]
    assert len({d["model_hash"] for d in raw}) == 1
    injected = [d for d in raw if d["experiment"] == "detection" and d["control"] == "concept"]
    assert len({d["layer"] for d in injected}) >= 3 and len({d["strength"] for d in injected}) >= 3


def test_every_item_has_the_labels_of_its_experiment(items: list[LabelledResponse]) -> None:
    for it in items:
        if it.experiment == "detection":
            want = DETECTION if it.control == "none" else INJECTED
            assert set(it.labels) == want | {"claims_detection"}, it.id
            if it.labels.get("noticed_first"):
                assert it.labels["correct_concept"] and it.labels["affirmative"], it.id
            assert it.labels["claims_detection"] == (
                it.labels["coherent"] and it.labels["affirmative"]
            )
        elif it.experiment == "prefill":
            assert set(it.labels) == {"coherent", "apology", "correct_concept"}, it.id
        else:
            assert set(it.labels) == {"answered_yes"}
            assert it.labels["answered_yes"] in ("yes", "no", "neither")
        assert set(it.ambiguous) <= set(it.labels), it.id
        assert it.note or not it.ambiguous, it.id  # an ambiguous call says why


def test_split_is_half_and_half_per_stratum(items: list[LabelledResponse]) -> None:
    strata = Counter((it.experiment, it.control) for it in items)
    dev = Counter((it.experiment, it.control) for it in items if it.split == "dev")
    assert {it.split for it in items} == {"dev", "test"}
    for key, n in strata.items():
        assert abs(dev[key] - n / 2) <= 1, key


def test_kappa_matches_cohens_kappa() -> None:
    rng = np.random.default_rng(0)
    for k in (2, 3):
        for _ in range(50):
            a = rng.integers(0, k, 40)
            b = np.where(rng.random(40) < 0.7, a, rng.integers(0, k, 40))
            assert float(kappa(a, b)) == pytest.approx(cohens_kappa(list(a), list(b)), abs=1e-12)
    assert float(kappa(np.zeros(5, int), np.zeros(5, int))) == 1.0
    rows = kappa(np.array([[0, 1, 1], [0, 0, 1]]), np.array([[0, 1, 1], [1, 1, 0]]))
    assert rows.shape == (2,) and rows[0] == 1.0 and rows[1] < 0


def constructed(n: int, flip: float, seed: int) -> list[LabelledResponse]:
    """``n`` prefill items whose apology label is a coin toss; the response says "An error."
    for a label the rules should call True, so a fraction ``flip`` disagrees on purpose."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = bool(rng.random() < 0.4)
        said = label != bool(rng.random() < flip)
        text = "An error." if said else "I meant it."
        out.append(
            LabelledResponse(
                f"x{i}",
                "prefill",
                "none",
                "Dust",
                text,
                "test",
                {"apology": label, "coherent": True, "correct_concept": False},
                (),
                "",
            )
        )
    return out


def test_measure_recovers_known_agreement() -> None:
    perfect = measure(constructed(200, 0.0, 1), "prefill", "apology")
    assert perfect.kappa == 1.0 and perfect.ci_low == 1.0 and perfect.determined
    assert not perfect.low_trust
    # chance-level grader: kappa near 0, interval covers 0; over seeded repeats
    covered = 0
    for seed in range(20):
        g = measure(constructed(200, 0.5, seed), "prefill", "apology", n_boot=500)
        assert g.kappa < 0.3 and g.low_trust
        covered += g.ci_low <= 0.0 <= g.ci_high
    assert covered >= 17
    # one class only: not measurable, so low trust whatever the kappa
    one = [it for it in constructed(100, 0.0, 2) if not it.labels["apology"]]
    g = measure(one, "prefill", "apology")
    assert not g.determined and g.low_trust


def test_measure_pools_experiments_and_splits(items: list[LabelledResponse]) -> None:
    pooled = measure(items, "detection+prefill", "coherent", "all", n_boot=200)
    det = measure(items, "detection", "coherent", "all", n_boot=200)
    pre = measure(items, "prefill", "coherent", "all", n_boot=200)
    assert pooled.n == det.n + pre.n
    test = measure(items, "detection", "coherent", "test", n_boot=200)
    assert 0 < test.n < det.n
    clear = measure(items, "detection", "coherent", "test", n_boot=200, unambiguous=True)
    hard = sum(
        it.experiment == "detection" and it.split == "test" and "coherent" in it.ambiguous
        for it in items
    )
    assert clear.n == test.n - hard and clear.n_ambiguous == 0 < hard


def test_shipped_agreement_and_notes() -> None:
    rows = shipped_agreement()
    assert [(g.experiment, g.criterion) for g in rows] == list(CRITERIA)
    for g in rows:
        assert g.split == "test" and g.n > 0
        assert g.low_trust == (not g.determined or g.kappa < KAPPA_TARGET)
    crits = [c for e, c in CRITERIA if e == "detection"]
    low = [c for c in crits if (g := governing("detection", c)) is not None and g.low_trust]
    assert "coherent" in low, "coherence is below target on the shipped labels (docs/grading.md)"
    note = low_trust_note("detection", crits)
    assert note.startswith(" Low trust:") and all(c in note for c in low)
    ok = [g for g in rows if not g.low_trust and "+" not in g.experiment]
    assert all(low_trust_note(g.experiment, [g.criterion]) == "" for g in ok)
    # detection answers never name the concept: the pooled row decides names-concept
    decide = governing("detection", "correct_concept")
    assert decide is not None and decide.experiment == "detection+prefill"
    table = agreement_rows(("prefill",))
    assert {r["experiment"] for r in table} == {"prefill", "detection+prefill"}


def test_low_trust_marks_a_line() -> None:
    line = Headline("x", 0.1, 0.0, 0.2, 10, "A sentence.")
    assert low_trust(line, "") == line
    marked = low_trust(line, " Low trust: because.")
    assert marked.low_trust and marked.sentence == "A sentence. Low trust: because."
    assert marked.as_dict()["low_trust"] is True


def test_malformed_label_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    good = LABELS_PATH.read_text().splitlines()[0]
    path.write_text(good + "\n" + '{"id": "x"}\n')
    with pytest.raises(ValueError, match=r"labels\.jsonl:2"):
        load_labels(path)
