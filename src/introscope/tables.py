"""The store flattened once, the helpers every slice's tables are built from, and the
trials of a run as the analyses read them (:class:`RunFrame`).

Column conventions shared by every table (and by :func:`introscope.render.tables.format_table`):

* a **rate** ``X`` comes as four columns ``X`` (estimate), ``X_ci_low``, ``X_ci_high`` (95%
  Wilson) and ``X_n`` (trials with a valid grade);
* a **difference** ``X`` (hit minus matched control, or a shift in a mean) has the same four
  columns plus ``X_n_ref``, the n of the reference condition;
* a **mean** ``X`` has ``X``, ``X_ci_low``, ``X_ci_high`` (t interval) and ``X_n``.

A grade that is missing, not a bool, or an ``{"error": ...}`` object (a judge that failed) is
*missing*: the trial is left out of that rate's n, never counted as False.

Control trials of every experiment have ``control == "none"`` (prefill: ``injected ==
"none"``). A configuration is compared with the control trials at its own (layer, strength)
when any carry it, otherwise with all control trials pooled (:func:`matched`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from introscope.stats import Difference, clustered_rate, paired_mean_ci, rate, rate_difference
from introscope.store import read_run_vectors

NAN = float("nan")
INJECTED_CONTROLS: tuple[str, ...] = ("concept", "random", "negated", "other", "matched_random")
CONTROL_ORDER: tuple[str, ...] = (*INJECTED_CONTROLS, "none")

Key = tuple[Any, ...]
Record = dict[str, Any]
#: A slice's tables by name. Every value is a DataFrame (empty when the slice did not run).
Tables = dict[str, pd.DataFrame]


# --------------------------------------------------------------------------- values


def clean(value: Any) -> Any:
    """NaN / pandas NA -> None; numpy scalars -> Python; integral floats stay floats."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) else f
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def number(value: Any) -> float | None:
    """A finite float, or None (bools, text, NaN and infinities are not numbers here)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def to_float(value: Any) -> float:
    """:func:`number` with NaN for "no number" (for estimates and interval bounds)."""
    v = number(clean(value))
    return NAN if v is None else v


def is_nan(value: Any) -> bool:
    return math.isnan(to_float(value))


def as_layer(value: Any) -> int | None:
    v = clean(value)
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def as_strength(value: Any) -> float | None:
    v = clean(value)
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def grade_value(grades: Any, criterion: str, grader: str = "rules") -> bool | None:
    """``grades[grader][criterion]`` as a bool, or None when missing / an error / not a bool."""
    g = as_dict(grades).get(grader)
    if not isinstance(g, Mapping) or ("error" in g and len(g) == 1):
        return None
    v = g.get(criterion)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return None


# --------------------------------------------------------------------------- the run frame


class RunFrame:
    """A run's trials (the frame of :func:`introscope.store.load_run`), decoded once, with
    the run's manifest (its specs: a declared configuration, the split seed).

    ``records(experiment, measure)`` returns the rows of one experiment as dicts whose
    ``condition`` / ``grades`` / ``logits`` (the trial's readout) are dicts; the list is
    built once per (experiment, measure) and shared, so callers must not modify it.
    """

    def __init__(
        self,
        df: pd.DataFrame | None,
        run_dir: Path | None = None,
        manifest: Mapping[str, Any] | None = None,
    ) -> None:
        self.df = df if df is not None else pd.DataFrame()
        self.run_dir = run_dir
        self.manifest: Mapping[str, Any] = manifest or {}
        self._records: dict[tuple[str, str | None], list[Record]] = {}
        self._vectors: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.df)

    def select(self, experiment: str, measure: str | None = None) -> pd.DataFrame:
        """Rows of one experiment (and measure); an empty frame when there are none."""
        df = self.df
        if len(df) == 0 or "experiment" not in df.columns:
            return pd.DataFrame()
        out = df[df["experiment"] == experiment]
        if measure is not None and "measure" in out.columns:
            out = out[out["measure"] == measure]
        return out.reset_index(drop=True)

    def records(self, experiment: str, measure: str | None = None) -> list[Record]:
        key = (experiment, measure)
        if key not in self._records:
            out = []
            for row in self.select(experiment, measure).to_dict("records"):
                row["condition"] = as_dict(row.get("condition"))
                row["grades"] = as_dict(row.get("grades"))
                row["logits"] = as_dict(row.get("logits"))
                out.append(row)
            self._records[key] = out
        return self._records[key]

    def has(self, experiment: str, measure: str | None = None) -> bool:
        return len(self.records(experiment, measure)) > 0

    def specs(self, experiment: str, measure: str | None = None) -> list[dict[str, Any]]:
        """The JSON dumps of the run's specs of one experiment (and measure), as the
        manifest records them; empty without a manifest."""
        dumps = self.manifest.get("specs") or []
        return [
            dict(d)
            for d in dumps
            if isinstance(d, Mapping)
            and d.get("experiment") == experiment
            and (measure is None or d.get("measure", "generation") == measure)
        ]

    def n_layers(self) -> int | None:
        """The model's decoder-layer count, as the manifest records it (None if it does not)."""
        model = self.manifest.get("model")
        n = model.get("n_layers") if isinstance(model, Mapping) else None
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    def vectors(self) -> dict[str, np.ndarray] | None:
        """The run's concept vectors (name -> ``[n_layers, d]``), None without a run
        directory or vector file."""
        if self.run_dir is None:
            return None
        if self._vectors is None:
            self._vectors = read_run_vectors(self.run_dir) or {}
        return self._vectors or None


def cond(row: Mapping[str, Any], key: str) -> Any:
    """A condition field, falling back to the flat column of the same name."""
    c = row.get("condition") or {}
    if key in c:
        return clean(c[key])
    return clean(row.get(key))


# --------------------------------------------------------------------------- grouping


def sort_key(value: Any, order: Sequence[str] = ()) -> tuple[int, Any]:
    """Numbers ascending, then strings in ``order``, other strings, and None last."""
    if value is None:
        return (2, "")
    if isinstance(value, str):
        return (0, order.index(value)) if value in order else (1, value)
    return (0, value)


def group(rows: Iterable[Record], key: Callable[[Record], Key]) -> dict[Key, list[Record]]:
    groups: dict[Key, list[Record]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def config_key(r: Record) -> Key:
    """A trial's injection configuration: (layer, strength, control)."""
    return (as_layer(cond(r, "layer")), as_strength(cond(r, "strength")), cond(r, "control"))


def config_order(key: Key) -> tuple[Any, ...]:
    """Sort configurations by layer, strength, then control in CONTROL_ORDER."""
    return (sort_key(key[0]), sort_key(key[1]), sort_key(key[2], CONTROL_ORDER))


def by_config(recs: Iterable[Record]) -> list[tuple[dict[str, Any], list[Record]]]:
    """Trials grouped by configuration, in :func:`config_order`, each paired with the start
    of its output row (layer, strength, control, n_trials)."""
    groups = group(recs, config_key)
    return [
        ({"layer": k[0], "strength": k[1], "control": k[2], "n_trials": len(v)}, v)
        for k, v in sorted(groups.items(), key=lambda kv: config_order(kv[0]))
    ]


def matched(controls: list[Record], layer: int | None, strength: float | None) -> list[Record]:
    """Control trials at (layer, strength) when any carry that configuration, else all."""
    same = [
        r
        for r in controls
        if as_layer(cond(r, "layer")) == layer and as_strength(cond(r, "strength")) == strength
    ]
    if same and (layer is not None or strength is not None):
        return same
    return controls


def frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=columns or [])
    return pd.DataFrame(rows)


def best_row(
    table: pd.DataFrame | None, col: str, mask: pd.Series | None = None
) -> tuple[pd.Series | None, int]:
    """The row with the largest finite ``col`` (and how many rows competed), or (None, 0)."""
    if table is None or len(table) == 0 or col not in table.columns:
        return None, 0
    t = table if mask is None else table[mask]
    t = t[t[col].notna()]
    if len(t) == 0:
        return None, 0
    return t.loc[pd.to_numeric(t[col]).idxmax()], len(t)


def row_at(table: pd.DataFrame | None, layer: Any, strength: Any, **match: Any) -> pd.Series | None:
    """The first row of ``table`` at (layer, strength) matching ``match``, or None;
    ``strength=None`` matches rows without a strength."""
    if table is None or len(table) == 0:
        return None
    m = pd.Series(True, index=table.index)
    for k, v in match.items():
        if k not in table.columns:
            return None
        m &= table[k] == v
    m &= table["layer"].map(clean) == clean(layer)
    if strength is None:
        m &= table["strength"].map(clean).isna()
    else:
        m &= table["strength"].map(clean) == clean(strength)
    sub = table[m]
    return sub.iloc[0] if len(sub) else None


# --------------------------------------------------------------------------- columns


def put_rate(out: dict[str, Any], name: str, values: Iterable[bool | None]) -> None:
    vals = [v for v in values if v is not None]
    r = rate(sum(vals), len(vals))
    out[name] = r.estimate
    out[f"{name}_ci_low"] = r.low
    out[f"{name}_ci_high"] = r.high
    out[f"{name}_n"] = r.n


def put_clustered_rate(
    out: dict[str, Any], name: str, values: Iterable[bool | None], clusters: Iterable[Any]
) -> None:
    """A rate over trials clustered by item (:func:`introscope.stats.clustered_rate`):
    ``name`` with its interval, ``{name}_n`` the number of items (the unit) and
    ``{name}_n_trials`` the trials behind it."""
    per: dict[Any, list[int]] = {}
    for v, c in zip(values, clusters, strict=True):
        if v is not None:
            per.setdefault(c, []).append(int(bool(v)))
    r = clustered_rate([sum(x) for x in per.values()], [len(x) for x in per.values()])
    out[name] = r.estimate
    out[f"{name}_ci_low"] = r.low
    out[f"{name}_ci_high"] = r.high
    out[f"{name}_n"] = len(per)
    out[f"{name}_n_trials"] = sum(len(x) for x in per.values())


def put_diff(out: dict[str, Any], name: str, d: Difference) -> None:
    out[name] = d.estimate
    out[f"{name}_ci_low"] = d.low
    out[f"{name}_ci_high"] = d.high
    out[f"{name}_n"] = d.n_a
    out[f"{name}_n_ref"] = d.n_b


def put_no_diff(out: dict[str, Any], name: str) -> None:
    """An undefined difference (a control row has nothing to be compared with)."""
    put_diff(out, name, Difference(NAN, NAN, NAN, 0, 0))


def put_rate_diff(
    out: dict[str, Any], name: str, a: Iterable[bool | None], b: Iterable[bool | None]
) -> None:
    va = [v for v in a if v is not None]
    vb = [v for v in b if v is not None]
    put_diff(out, name, rate_difference(sum(va), len(va), sum(vb), len(vb)))


def put_mean(out: dict[str, Any], name: str, values: Iterable[float | None]) -> None:
    vals = [v for v in values if v is not None]
    d = paired_mean_ci(vals)
    out[name] = d.estimate
    out[f"{name}_ci_low"] = d.low
    out[f"{name}_ci_high"] = d.high
    out[f"{name}_n"] = d.n_a


def put_vs_chance(out: dict[str, Any], name: str, rate_col: str, chance: float) -> None:
    """``name`` = the rate ``rate_col`` minus a constant chance level, its Wilson bounds
    shifted by chance (chance is a constant, not an estimate)."""
    out[name] = out[rate_col] - chance
    out[f"{name}_ci_low"] = out[f"{rate_col}_ci_low"] - chance
    out[f"{name}_ci_high"] = out[f"{rate_col}_ci_high"] - chance
    out[f"{name}_n"] = out[f"{rate_col}_n"]
