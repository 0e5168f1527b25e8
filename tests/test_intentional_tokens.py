"""Intentional control by token: known per-token cosines give the expected table."""

from __future__ import annotations

import math
from pathlib import Path

from introscope import analysis
from introscope.plots_controls import plot_intentional_control_tokens
from introscope.store import RunStore, TrialRecord, load_run


def test_token_table_and_plot(tmp_path: Path) -> None:
    recs = []
    for k in range(6):
        for instruction, bump in (("think", 0.3), ("dont_think", 0.0)):
            n_tok = 3 if k < 3 else 2  # sentences of different lengths
            cos = [[bump + 0.1 * t, 0.05] for t in range(n_tok)]  # [token][layer], 2 layers
            base = [[0.1 * t, 0.05] for t in range(n_tok)]
            recs.append(
                TrialRecord(
                    trial_id=f"{instruction}-{k}",
                    run_id="r",
                    experiment="intentional_control",
                    cell_id=instruction,
                    condition={"word": "Dust", "instruction": instruction},
                    prompt="p",
                    measure="logits",
                    seed=k,
                    logits={
                        "cos_by_token": cos,
                        "baseline_by_token": base,
                        "cos_by_layer": [0.0, 0.0],
                        "baseline_by_layer": [0.0, 0.0],
                    },
                )
            )
    with RunStore(tmp_path) as store:
        store.write_batch(recs)
    table = analysis.intentional_control_token_table(load_run(tmp_path))
    assert len(table) == 2 * 3 * 2
    think = table[(table.instruction == "think") & (table.layer == 0)]
    assert all(math.isclose(d, 0.3, abs_tol=1e-9) for d in think["delta"])
    assert list(think["delta_n"]) == [6, 6, 3]  # only the longer sentences reach token 2
    flat = table[table.layer == 1]
    assert all(abs(d) < 1e-9 for d in flat["delta"])
    png = plot_intentional_control_tokens(table, tmp_path / "tokens.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
