"""Choosing the configuration a headline reads without reading it on the data that chose it,
and estimating at it with the concept as the unit (``docs/statistics.md``).

Reading the largest of k configurations on the trials that picked it is biased upward (the
winner's curse): with no effect anywhere, the best of k intervals excludes 0 far more often
than 5% of the time. A slice therefore reads one configuration chosen by one of two
protocols:

* **declared**: the spec's ``primary = {layer, strength}`` names it before the run;
* **held out**: otherwise the concepts are split in two by a seeded hash (the spec's seed);
  the configuration with the largest mean over the first half (*chosen on*) is estimated on
  the second half only (*estimated on*). With one configuration there is nothing to choose;
  with too few concepts to choose on half of them the first configuration is read (a choice
  that does not look at the data, so it is not biased either), and the sentence says so.

Trials that share a concept are not independent (an easy concept is easy everywhere), so
every estimate here is a mean over concepts of per-concept means, with a t interval over
concepts (``unit="concepts"``), and a contrast between two conditions is the per-concept
difference of their means (paired by concept).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from introscope.core.layer_specs import resolve_layer
from introscope.errors import AnalysisError, LayerError
from introscope.render.html import paragraph
from introscope.stats import Difference, holm, mean_difference_ci, paired_mean_ci
from introscope.store import stable_hash
from introscope.tables import NAN, RunFrame, clean, number, sort_key

How = Literal["declared", "held out", "only", "fixed"]
Config = tuple[Any, ...]


@dataclass(frozen=True)
class Choice:
    """The configuration a slice reads: its key values (``keys``, e.g. layer and strength),
    how it was chosen, how many configurations competed (``k``), the split seed, and the
    concepts the choice used (``chosen_on``) and those every estimate at it uses
    (``estimated_on``; every concept for a declared or only configuration)."""

    keys: tuple[str, ...]
    config: Config
    how: How
    k: int
    seed: int
    chosen_on: tuple[str, ...]
    estimated_on: tuple[str, ...]

    def at(self) -> dict[str, Any]:
        return dict(zip(self.keys, self.config, strict=True))

    def note(self, unit: str = "concept") -> str:
        """The parenthetical a sentence puts after the configuration (``unit``: what the
        split divides, "concept" or e.g. "word")."""
        if self.how == "declared":
            return " (declared in the spec before the run)"
        if self.how == "only":
            return " (the only configuration)"
        n_est = len(self.estimated_on)
        if self.how == "held out":
            return (
                f" (chosen among {self.k} configurations on "
                f"{concepts_text(len(self.chosen_on), unit)} and estimated on the other "
                f"{n_est}; split seed {self.seed})"
            )
        return (
            f" (the first of {self.k} configurations: too few {unit}s to choose one on "
            f"half of them and estimate on the other half)"
        )


def concepts_text(n: int, unit: str = "concept") -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def reused_note(how: str, n: int, k: int = 1, unit: str = "concept") -> str:
    """The parenthetical of a later step that reads a configuration another slice chose
    (``how``: the :class:`Choice`'s) on ``n`` concepts: those held out from the selection,
    or all of them when no data chose it."""
    on = concepts_text(n, unit)
    if how == "held out":
        held = f"{n} held-out {unit}{'' if n == 1 else 's'}"
        return f" (the configuration selected on other {unit}s, estimated on {held})"
    if how == "declared":
        return f" (the declared configuration, estimated on all {on})"
    if how == "only":
        return f" (the only configuration, estimated on all {on})"
    return (
        f" (the first of {k} configurations, taken without looking at the data, estimated "
        f"on all {on})"
    )


def held_out_concepts(choice: Choice, concepts: Iterable[str]) -> list[str]:
    """The concepts an estimate at ``choice`` may use: every one but those it was chosen on
    (all of them for a declared, only or fixed configuration)."""
    return sorted({str(c) for c in concepts} - set(choice.chosen_on))


def choice_from_table(
    table: pd.DataFrame | None, keys: Sequence[str] = ("layer", "strength")
) -> Choice | None:
    """The :class:`Choice` a ``selection`` table (:func:`selection_frame`) records, or None
    without a row."""
    if table is None or len(table) == 0 or any(k not in table.columns for k in keys):
        return None
    r = table.iloc[0]
    how = str(r["how"])
    if how not in ("declared", "held out", "only", "fixed"):
        return None
    return Choice(
        tuple(keys),
        tuple(clean(r[k]) for k in keys),
        cast(How, how),
        int(r["k"]),
        int(r["seed"]),
        concept_list(r["chosen_on"]),
        concept_list(r["estimated_on"]),
    )


# --------------------------------------------------------------------------- the spec side


def declared_config(
    run: RunFrame, kind: str, keys: Sequence[str], measure: str | None = None
) -> Config | None:
    """The configuration the run's ``kind`` spec declares (``primary``), as the tables key it
    (the layer resolved to an index with the manifest's layer count), or None."""
    declared: set[Config] = set()
    for dump in run.specs(kind, measure):
        primary = dump.get("primary")
        if not isinstance(primary, Mapping):
            continue
        values: dict[str, Any] = {"strength": number(primary.get("strength"))}
        values["layer"] = resolved_layer(run, primary.get("layer"), str(dump.get("name")))
        declared.add(tuple(values[k] for k in keys))
    if len(declared) > 1:
        raise AnalysisError(
            f"the run's {kind} specs declare different primary configurations; one analysis "
            "reads one (run them in separate directories)."
        )
    return next(iter(declared), None)


def resolved_layer(run: RunFrame, layer: Any, spec_name: str) -> int:
    n_layers = run.n_layers()
    if n_layers is None:
        if isinstance(layer, int) and not isinstance(layer, bool) and layer >= 0:
            return layer
        raise AnalysisError(
            f"spec {spec_name} declares primary layer {layer!r}, but the run's manifest "
            "records no layer count to resolve it with."
        )
    try:
        return resolve_layer(layer, n_layers)
    except LayerError as exc:
        raise AnalysisError(f"spec {spec_name}: primary.layer: {exc}") from None


def split_seed(run: RunFrame, kind: str, measure: str | None = None) -> int:
    """The seed of the held-out split: the ``kind`` spec's seed (0 without a manifest)."""
    for dump in run.specs(kind, measure):
        seed = dump.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            return seed
    return 0


def split_concepts(concepts: Iterable[str], seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(chosen_on, estimated_on): the concepts ordered by a hash of (seed, concept), the first
    half (rounded down) to choose on, the rest to estimate on; each half sorted by name. The
    hash depends on nothing but the seed and the words, so the split is the same on every
    machine and in every Python process."""
    order = sorted(set(concepts), key=lambda c: stable_hash([seed, c]))
    half = len(order) // 2
    return tuple(sorted(order[:half])), tuple(sorted(order[half:]))


SELECTION_COLUMNS = (
    "how",
    "k",
    "seed",
    "n_chosen_on",
    "n_estimated_on",
    "chosen_on",
    "estimated_on",
    "note",
)


def selection_frame(choice: Choice | None, unit: str = "concept", **extra: Any) -> pd.DataFrame:
    """The ``selection`` table of a slice: one row with ``extra``, the configuration's keys,
    how it was chosen, the split seed, the concepts on each side (names joined by ", ") and
    the note its sentences quote (``unit``: what the split divides); no row without a
    choice."""
    if choice is None:
        return pd.DataFrame(columns=[*extra, *SELECTION_COLUMNS])
    row = {
        **extra,
        **choice.at(),
        "how": choice.how,
        "k": choice.k,
        "seed": choice.seed,
        "n_chosen_on": len(choice.chosen_on),
        "n_estimated_on": len(choice.estimated_on),
        "chosen_on": ", ".join(choice.chosen_on),
        "estimated_on": ", ".join(choice.estimated_on),
        "note": choice.note(unit),
    }
    return pd.DataFrame([row])


def selection_text(table: pd.DataFrame, what: str) -> str:
    """A report sentence on how the configuration ``what`` reads was chosen (empty without
    one)."""
    if len(table) == 0:
        return ""
    r = table.iloc[0]
    where = ", ".join(
        f"{k} {fmt(r[k])}" for k in ("layer", "strength") if k in table and clean(r[k]) is not None
    )
    text = f"{what} read at {where}{r['note']}."
    if r["how"] == "held out":
        text += f" Chosen on: {r['chosen_on']}. Estimated on: {r['estimated_on']}."
    return text


def selection_paragraph(table: pd.DataFrame, what: str) -> str:
    """:func:`selection_text` as a report paragraph (nothing without a configuration)."""
    text = selection_text(table, what)
    return paragraph(text) if text else ""


def fmt(value: Any) -> str:
    v = clean(value)
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def concept_list(text: Any) -> tuple[str, ...]:
    """The concepts of a ``selection`` table cell (names joined by ", ")."""
    return tuple(x for x in str(text or "").split(", ") if x)


# --------------------------------------------------------------------------- per-concept tables


def per_concept(
    points: Iterable[Mapping[str, Any]], keys: Sequence[str], values: Sequence[str]
) -> pd.DataFrame:
    """One row per (``keys``, concept): ``n_trials`` and the mean of each of ``values`` over
    the concept's trials that have a number (bools count as 0/1; NaN when none has)."""
    cells: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for p in points:
        concept = clean(p.get("concept"))
        if concept is None:
            continue
        cells.setdefault((*(clean(p.get(k)) for k in keys), str(concept)), []).append(p)
    rows = []
    for key in sorted(cells, key=lambda k: tuple(sort_key(v) for v in k)):
        trials = cells[key]
        out: dict[str, Any] = dict(zip((*keys, "concept"), key, strict=True))
        out["n_trials"] = len(trials)
        for v in values:
            nums = [x for t in trials if (x := as_number(t.get(v))) is not None]
            out[v] = float(np.mean(nums)) if nums else NAN
        rows.append(out)
    return pd.DataFrame(rows, columns=[*keys, "concept", "n_trials", *values])


def as_number(value: Any) -> float | None:
    """A bool as 0/1, else :func:`introscope.tables.number`."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    return number(value)


def at_config(table: pd.DataFrame, keys: Sequence[str], config: Config) -> pd.DataFrame:
    """The rows of ``table`` at ``config`` (a None key value matches missing values)."""
    if len(table) == 0:
        return table
    mask = np.ones(len(table), dtype=bool)
    for k, v in zip(keys, config, strict=True):
        want = clean(v)
        col = table[k]
        mask &= (col.isna() if want is None else (col == want) & col.notna()).to_numpy()
    return table[mask]


def concept_values(
    table: pd.DataFrame,
    keys: Sequence[str],
    config: Config,
    value: str,
    concepts: Collection[str] | None = None,
) -> pd.Series:
    """Per-concept ``value`` at ``config`` (finite values only, indexed by concept),
    restricted to ``concepts`` when given."""
    rows = at_config(table, keys, config)
    if concepts is not None and len(rows):
        rows = rows[rows["concept"].isin(list(concepts))]
    if len(rows) == 0:
        return pd.Series(dtype=float)
    vals = pd.to_numeric(rows[value], errors="coerce").to_numpy(dtype=float)
    s = pd.Series(vals, index=rows["concept"].astype(str).to_numpy())[~np.isnan(vals)]
    return s.groupby(level=0).mean() if s.index.has_duplicates else s.sort_index()


def finite_rows(
    table: pd.DataFrame, keys: Sequence[str], value: str
) -> list[tuple[Config, str, float]]:
    """(configuration, concept, value) for every row of ``table`` with a finite ``value``."""
    if len(table) == 0:
        return []
    vals = pd.to_numeric(table[value], errors="coerce").to_numpy(dtype=float)
    cfgs = zip(*(table[k].map(clean) for k in keys), strict=True)
    return [
        (tuple(c), str(x), float(v))
        for c, x, v in zip(cfgs, table["concept"], vals, strict=True)
        if not np.isnan(v)
    ]


def config_sort(config: Config) -> tuple[Any, ...]:
    return tuple(sort_key(v) for v in config)


def choose(
    table: pd.DataFrame,
    keys: Sequence[str],
    value: str,
    *,
    declared: Config | None = None,
    seed: int = 0,
    sign: float = 1.0,
    chosen_on: Collection[str] | None = None,
) -> Choice | None:
    """The configuration to read: ``declared`` when given, else the one with the largest
    ``sign`` x (mean over the chosen-on concepts of the per-concept ``value``) among the
    configurations of ``table`` (per-concept rows of the competing condition only, one row
    per configuration and concept); ties go to the first in sort order. None when no
    configuration has a value. ``chosen_on``: the concepts to choose on when an earlier
    choice already split them (a later step keeps that split), instead of the seeded
    split of this table's concepts."""
    rows = finite_rows(table, keys, value)
    cands = sorted({c for c, _, _ in rows}, key=config_sort)
    concepts = tuple(sorted({x for _, x, _ in rows}))
    if declared is not None:
        return Choice(tuple(keys), declared, "declared", len(cands), seed, (), concepts)
    if not cands:
        return None
    if len(cands) == 1:
        return Choice(tuple(keys), cands[0], "only", 1, seed, (), concepts)
    if chosen_on:
        pick = set(chosen_on) & set(concepts)
        split = (
            tuple(c for c in concepts if c in pick),
            tuple(c for c in concepts if c not in pick),
        )
    else:
        split = split_concepts(concepts, seed)
        pick = set(split[0])
    by_config: dict[Config, list[float]] = {}
    for c, x, v in rows:
        if x in pick:
            by_config.setdefault(c, []).append(v)
    best: Config | None = None
    best_mean = -math.inf
    for c in cands:
        if c in by_config and sign * float(np.mean(by_config[c])) > best_mean:
            best, best_mean = c, sign * float(np.mean(by_config[c]))
    if best is None:  # nothing to choose on: the first configuration, read on every concept
        return Choice(tuple(keys), cands[0], "fixed", len(cands), seed, (), concepts)
    return Choice(tuple(keys), best, "held out", len(cands), seed, *split)


# --------------------------------------------------------------------------- estimates


def concept_mean(values: pd.Series | Sequence[float], minus: float = 0.0) -> Difference:
    """Mean over concepts of per-concept values (minus a constant such as chance) with a t
    interval over concepts and its p-value against 0 (n = concepts)."""
    return paired_mean_ci([float(v) - minus for v in values])


def paired_difference(a: pd.Series, b: pd.Series) -> Difference:
    """Per-concept a - b over the concepts both have, mean with a t interval over concepts
    (the two conditions share the concept, so the difference is paired by concept)."""
    both = a.index.intersection(b.index)
    return paired_mean_ci([float(a[c]) - float(b[c]) for c in both])


def against_control(
    values: pd.Series | Sequence[float],
    control: Sequence[float],
    deterministic: bool,
) -> Difference:
    """Mean over concepts minus the mean of no-injection trials (which carry no concept).

    A deterministic readout (logits: no sampling) gives the same value on every repeat of a
    no-injection trial, so the control is a constant: one-sample t interval over concepts of
    (value - control). Otherwise the two independent samples get a Welch interval (concept
    means against control trials); one sampled control trial leaves it undetermined.
    """
    ctrl = [float(v) for v in control]
    vals = [float(v) for v in values]
    if not ctrl:
        return Difference(float(np.mean(vals)) if vals else NAN, NAN, NAN, len(vals), 0)
    if deterministic and np.ptp(ctrl) == 0.0:
        d = paired_mean_ci([v - ctrl[0] for v in vals])
        return Difference(d.estimate, d.low, d.high, d.n_a, len(ctrl), d.p)
    return mean_difference_ci(vals, ctrl)


def put_estimate(out: dict[str, Any], name: str, d: Difference) -> None:
    """``name`` (estimate), ``_ci_low``, ``_ci_high``, ``_n`` (concepts), ``_n_ref`` and
    ``_p`` of a concept-level estimate."""
    out[name] = d.estimate
    out[f"{name}_ci_low"] = d.low
    out[f"{name}_ci_high"] = d.high
    out[f"{name}_n"] = d.n_a
    out[f"{name}_n_ref"] = d.n_b
    out[f"{name}_p"] = d.p


def add_holm(table: pd.DataFrame, name: str, by: Sequence[str] = ()) -> pd.DataFrame:
    """Add ``{name}_p_holm``: the ``{name}_p`` values Holm-adjusted over the rows of each
    ``by`` group (the configurations one reading would scan for findings)."""
    if len(table) == 0:
        return table
    out = table.copy()
    out[f"{name}_p_holm"] = NAN
    groups = out.groupby(list(by), dropna=False, sort=False) if by else [((), out)]
    for _, g in groups:
        out.loc[g.index, f"{name}_p_holm"] = holm(list(pd.to_numeric(g[f"{name}_p"])))
    return out
