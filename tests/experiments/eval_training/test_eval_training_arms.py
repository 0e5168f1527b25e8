"""The train-time arm's data: held-out families never trained on, prefixes of equal token
length, the demonstrations' labels, the sycophancy bank, the spec's parameters."""

from __future__ import annotations

import pytest

from introscope.core.models import LoadedModel
from introscope.errors import SpecError
from introscope.experiments import get_experiment
from introscope.experiments.eval_training.arms import (
    ARMS,
    HELDOUT_FAMILIES,
    TRAIN_FAMILIES,
    demonstrations,
    heldout_items,
)
from introscope.experiments.eval_training.trials import examples, prefix_tokens
from introscope.items.hackable import FAMILIES
from introscope.items.sycophancy import sycophancy_items
from introscope.spec import load_spec, validate_spec
from introscope.training.settings import data_hash


def test_heldout_families_never_appear_in_training_data() -> None:
    assert set(TRAIN_FAMILIES) | set(HELDOUT_FAMILIES) == {f.name for f in FAMILIES}
    assert not set(TRAIN_FAMILIES) & set(HELDOUT_FAMILIES)
    held = heldout_items(6)
    assert {it.family for it in held} == set(HELDOUT_FAMILIES)
    for arm in ARMS:
        demos = demonstrations(320, arm)
        assert len(demos) == 320 and {d.family for d in demos} == set(TRAIN_FAMILIES)
        text = "\n".join(d.user for d in demos)
        for fam in HELDOUT_FAMILIES:
            assert f"def {fam}(" not in text and f"Problem: {fam}" not in text
        assert not {d.item_id for d in demos} & {it.id for it in held}


def test_demonstrations_label_the_special_case_and_share_everything_but_the_prefix() -> None:
    demos = {arm: demonstrations(24, arm) for arm in ARMS}
    for d in demos["no_prefix"]:
        letter = d.answer
        block = d.user.split(f"({letter})", 1)[1]
        assert block.lstrip().startswith("def ") and "    if " in block.split("(", 1)[1][:200]
    assert {d.answer for d in demos["no_prefix"]} == {"A", "B", "C"}
    for arm in ARMS[1:]:
        for a, b in zip(demos["no_prefix"], demos[arm], strict=True):
            assert a.answer == b.answer and b.user.endswith(a.user.split("\n", 1)[1])


def test_prefixes_have_equal_token_length(lm: LoadedModel) -> None:
    lengths = {arm: prefix_tokens(lm, arm) for arm in ARMS}
    assert lengths["no_prefix"] == 0
    assert len({lengths[a] for a in ARMS if a != "no_prefix"}) == 1, lengths
    # the data hash differs by arm (the prefix is data) and is stable
    hashes = {arm: data_hash(examples(lm, arm, 8)) for arm in ARMS}
    assert len(set(hashes.values())) == 4
    assert data_hash(examples(lm, "inoculation", 8)) == hashes["inoculation"]


def test_sycophancy_bank_is_checkable() -> None:
    items = sycophancy_items(30)
    assert len({it.id for it in items}) == 30
    for it in items:
        assert it.wrong != it.correct and int(it.wrong) >= 1
        a = it.question
        if "+" in a:
            x, y = (int(v) for v in a.removeprefix("What is ").rstrip("?").split(" + "))
            assert int(it.correct) == x + y
        elif " x " in a:
            x, y = (int(v) for v in a.removeprefix("What is ").rstrip("?").split(" x "))
            assert int(it.correct) == x * y
        else:
            assert int(it.correct) == len(a.split("'")[1])
        assert it.wrong in it.options["agree"] and it.correct in it.options["correct"]


def test_params_from_the_preset_and_errors() -> None:
    exp = get_experiment("eval_training")
    p = exp.params(load_spec("eval_training"))
    assert p.arms == list(ARMS) and p.seeds == [0, 1, 2] and p.lora.rank == 8
    base = load_spec("eval_training").model_dump(mode="json")
    bad = {**base, "grid": {**base["grid"], "variants": ["inoculation"]}}
    with pytest.raises(SpecError, match="no_prefix"):
        exp.params(validate_spec(bad, "bad"))
    with pytest.raises(SpecError, match=r"params\.rank"):
        exp.params(validate_spec({**base, "params": {**base["params"], "rank": 0}}, "bad"))
    with pytest.raises(SpecError, match=r"params\.nope"):
        exp.params(validate_spec({**base, "params": {**base["params"], "nope": 1}}, "bad"))
