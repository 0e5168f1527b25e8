"""The steering preset and battery part validate; bad settings get one clear sentence."""

from __future__ import annotations

from typing import Any

import pytest

from introscope.battery import battery_specs
from introscope.errors import SpecError
from introscope.experiments import EXPERIMENTS, REGISTRY
from introscope.experiments.eval_steering.params import eval_steering_params
from introscope.spec import Spec, load_spec, validate_spec


def spec(params: dict[str, Any] | None = None, **changes: Any) -> Spec:
    data = load_spec("eval_framing_steering").model_dump(mode="json")
    for key, value in changes.items():
        if key.startswith("grid_"):
            data["grid"][key[5:]] = value
        else:
            data[key] = value
    if params is not None:
        data["params"] = params
    return validate_spec(data, "test")


def test_preset_and_battery_part_validate() -> None:
    p = eval_steering_params(load_spec("eval_framing_steering"))
    assert p.items_per_kind == 12 and p.strengths == [-4.0, -2.0, 2.0, 4.0]
    assert p.n_random == 4 and p.paraphrases == 1 and not p.relative
    [part] = battery_specs(only=["eval_framing_steering"])
    small = eval_steering_params(part)
    assert small.items_per_kind == 2 and len(small.layers) == 1 and small.n_random == 2
    kinds = [e.kind for e in REGISTRY]
    assert kinds.index("eval_framing_steering") == kinds.index("eval_framing") + 1
    assert set(EXPERIMENTS["eval_framing_steering"].steps) == {305, 306}


def test_relative_strengths_are_accepted() -> None:
    p = eval_steering_params(spec(grid_strength_unit="residual_norm", grid_strengths=[0.1]))
    assert p.relative and p.strengths == [0.1]


@pytest.mark.parametrize(
    ("params", "changes", "match"),
    [
        ({"n_random": 0}, {}, r"params\.n_random"),
        ({"paraphrases": 4}, {}, r"params\.paraphrases"),
        ({"randoms": 2}, {}, r"params\.randoms: unknown key"),
        (None, {"grid_strengths": [0.0]}, r"grid\.strengths: .*nonzero"),
        (None, {"grid_strengths": [2.0, 2.0]}, r"grid\.strengths: .*twice"),
        (None, {"grid_variants": ["judgment"]}, r"grid\.variants: .*does not use"),
        (None, {"trials_per_cell": 3}, r"trials_per_cell: .*does not use"),
        (None, {"grid_controls": ["random"]}, r"grid\.controls"),
    ],
)
def test_bad_settings_are_one_sentence(
    params: dict[str, Any] | None, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(SpecError, match=match) as err:
        spec(params, **changes)
    assert "\n" not in str(err.value)
