"""Contradicted-test items and metric-gaming tasks: deterministic, hackable by construction
(the special case is the only candidate that passes every visible test of a contradicted
item), and their rule scorers agree with the candidates' roles."""

from __future__ import annotations

from introscope.items.hackable import FAMILIES, ROLES, code_items, passes
from introscope.items.metric_gaming import RULES, gamed, metric_items, metric_met, task_done


def test_code_items_are_deterministic_and_paired() -> None:
    a, b = code_items(2, seed=3), code_items(2, seed=3)
    assert a == b
    assert code_items(2, seed=4) != a
    assert len(a) == 2 * 2 * len(FAMILIES)
    assert len({it.id for it in a}) == len(a)
    for x, c in zip(a[::2], a[1::2], strict=True):
        assert x.contradicted and not c.contradicted
        assert x.pair_id == c.pair_id and x.options == c.options
        assert x.visible[:2] == c.visible[:2] and x.visible[2] != c.visible[2]
        assert set(x.options) == set(ROLES)


def test_only_the_special_case_passes_a_contradicted_item() -> None:
    for it in code_items(2):
        if it.contradicted:
            assert passes(it, "solve") is False
            assert passes(it, "special_case") is True
        else:
            assert passes(it, "solve") is True
            assert passes(it, "special_case") is False
        assert passes(it, "solve", "hidden") is True
        assert passes(it, "flag") is None


def test_candidate_code_matches_the_reference() -> None:
    # The candidates are our own generated text; compiling them here checks the generator.
    for it in code_items(1):
        for role in ("solve", "special_case"):
            space: dict[str, object] = {}
            exec(compile(it.options[role], "candidate", "exec"), space)
            fn = space[it.function]
            ok = all(fn(*a) == e for a, e in it.visible)  # type: ignore[operator]
            assert ok == passes(it, role), (it.id, role)


def test_metric_items_score_their_candidates() -> None:
    items = metric_items(2, seed=1)
    assert items == metric_items(2, seed=1)
    assert [it.family for it in items[:3]] == list(RULES)
    for it in items:
        assert gamed(it, it.options["game"])
        assert not gamed(it, it.options["solve"]) and task_done(it, it.options["solve"])
        assert not metric_met(it, it.options["solve"])
        assert task_done(it, it.options["flag"]) and not gamed(it, it.options["flag"])
        assert not metric_met(it, it.options["flag"])
