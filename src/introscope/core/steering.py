"""Injections and the hook engine that applies them.

An :class:`Injection` is (vector, layers, strength, window, mode). A batch may give every row
its own injections; the engine turns them into one forward hook per touched decoder layer.
Each hook knows, for the current forward call, the *true* (unpadded) token position of every
column of every row (:class:`Positions`), so a window such as "from the marker onward,
including every generated token" is resolved by position, which keeps it correct with left
padding, with a KV cache (one column per step), without one (the whole sequence per step) and
with a reused prefix.

Mode ``dropout`` (:meth:`Injection.dropout`) zeroes each coordinate with probability p and
rescales the rest, with a mask hashed from the row's own seed, the layer and the true
position (:mod:`introscope.core.dropout`), so a row's draw never depends on its batchmates.

Rows with no injection at a layer are left untouched (``torch.where`` picks the original
tensor), so they are byte-identical to the unhooked model under the same batch shape.
Hooks live only inside :meth:`SteeringHooks.active` and are removed in ``finally``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from introscope.core.dropout import dropped
from introscope.core.layers import LayerSpec, block_output, replace_block_output, resolve_layers
from introscope.errors import InjectionError

Mode = Literal["add", "project_out", "dropout"]
MODES: tuple[Mode, ...] = ("add", "project_out", "dropout")
WindowKind = Literal["all", "from", "span", "generated"]

#: Sentinel "no end": the window runs through every generated token.
OPEN_END = 1 << 40


@dataclass(frozen=True)
class Window:
    """Which token positions of a row an injection touches.

    - ``Window.all()``: every prompt token and every generated token.
    - ``Window.from_index(i)`` / ``Window.from_marker(text)``: from token ``i`` (negative
      counts from the prompt's end) or from the first token of the first occurrence of
      ``text`` in the prompt, through every generated token.
    - ``Window.span(i, j)`` / ``Window.span_marker(text)``: prompt tokens ``[i, j)`` only, or
      the tokens covering ``text``.
    - ``Window.generated()``: generated tokens only.
    """

    kind: WindowKind = "all"
    start: int | None = None
    end: int | None = None
    marker: str | None = None
    occurrence: int = 0

    @staticmethod
    def all() -> Window:
        return Window("all")

    @staticmethod
    def from_index(start: int) -> Window:
        return Window("from", start=start)

    @staticmethod
    def from_marker(marker: str, occurrence: int = 0) -> Window:
        return Window("from", marker=marker, occurrence=occurrence)

    @staticmethod
    def span(start: int, end: int) -> Window:
        return Window("span", start=start, end=end)

    @staticmethod
    def span_marker(marker: str, occurrence: int = 0) -> Window:
        return Window("span", marker=marker, occurrence=occurrence)

    @staticmethod
    def generated() -> Window:
        return Window("generated")

    @staticmethod
    def parse(text: str) -> Window:
        """CLI form: ``all``, ``generated``, ``from:12``, ``from:-5``, ``from:"marker"``,
        ``span:3:9``, ``span:"marker"``."""
        t = text.strip()
        if t in ("all", "generated"):
            return Window(t)  # type: ignore[arg-type]
        kind, _, rest = t.partition(":")
        if kind in ("from", "span") and rest:
            if rest[0] in "\"'" and rest[-1] == rest[0] and len(rest) >= 2:
                return Window(kind, marker=rest[1:-1])  # type: ignore[arg-type]
            parts = rest.split(":")
            try:
                if kind == "from" and len(parts) == 1:
                    return Window.from_index(int(parts[0]))
                if kind == "span" and len(parts) == 2:
                    return Window.span(int(parts[0]), int(parts[1]))
            except ValueError:
                pass
            # Numbers in the wrong count (``span:3``, ``from:2:5``) are a typo for an index
            # form, not a marker: only text that is not all integers names a marker.
            if not all(_is_int(p) for p in parts) and (
                (kind == "from" and len(parts) == 1) or kind == "span"
            ):
                return Window(kind, marker=rest)  # type: ignore[arg-type]
        raise InjectionError(
            f"Window {text!r} is not one of: all, generated, from:INDEX, from:TEXT, "
            f"span:START:END, span:TEXT."
        )

    def describe(self) -> str:
        if self.kind in ("all", "generated"):
            return self.kind
        where = repr(self.marker) if self.marker is not None else str(self.start)
        if self.kind == "span" and self.marker is None:
            where = f"{self.start}:{self.end}"
        return f"{self.kind}:{where}"

    def resolve(
        self,
        prompt_len: int,
        offsets: Sequence[tuple[int, int]] | None = None,
        text: str | None = None,
    ) -> tuple[int, int]:
        """Token positions ``[start, end)`` in the unpadded row (end may be ``OPEN_END``)."""
        if self.kind == "all":
            return 0, OPEN_END
        if self.kind == "generated":
            return prompt_len, OPEN_END
        if self.marker is not None:
            start, end = _marker_tokens(self.marker, self.occurrence, offsets, text)
            return (start, OPEN_END) if self.kind == "from" else (start, end)
        assert self.start is not None
        s = self.start + prompt_len if self.start < 0 else self.start
        if not 0 <= s < prompt_len:
            raise InjectionError(
                f"Window start {self.start} is outside the prompt ({prompt_len} tokens)."
            )
        if self.kind == "from":
            return s, OPEN_END
        assert self.end is not None
        e = self.end + prompt_len if self.end < 0 else self.end
        if not s < e <= prompt_len:
            raise InjectionError(
                f"Window span {self.start}:{self.end} is empty or runs past the prompt "
                f"({prompt_len} tokens)."
            )
        return s, e


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _marker_tokens(
    marker: str, occurrence: int, offsets: Sequence[tuple[int, int]] | None, text: str | None
) -> tuple[int, int]:
    if offsets is None or text is None:
        raise InjectionError("A marker window needs the prompt text and token offsets.")
    pos, at = -1, -1
    for _ in range(occurrence + 1):
        pos = text.find(marker, at + 1)
        if pos < 0:
            raise InjectionError(f"Marker {marker!r} does not occur in the prompt.")
        at = pos
    char_end = pos + len(marker)
    toks = [i for i, (a, b) in enumerate(offsets) if b > pos and a < char_end and b > a]
    if not toks:
        raise InjectionError(f"Marker {marker!r} covers no token of the prompt.")
    return toks[0], toks[-1] + 1


@dataclass(frozen=True)
class Injection:
    """Add ``strength * vector`` (mode ``add``) or remove ``strength`` times the component
    along ``vector`` (mode ``project_out``; 1.0 removes it fully) at ``layers`` over
    ``window``. ``label`` names the vector in logs (e.g. ``concept:Dust@L20``).

    Mode ``dropout`` (build it with :meth:`dropout`) has no vector: ``strength`` is the
    dropout rate p in [0, 1) and ``seed`` fixes the mask."""

    vector: torch.Tensor
    layers: tuple[LayerSpec, ...] | LayerSpec
    strength: float = 1.0
    window: Window = field(default_factory=Window.all)
    mode: Mode = "add"
    label: str = ""
    seed: int = 0

    @staticmethod
    def dropout(
        p: float,
        layers: tuple[LayerSpec, ...] | LayerSpec,
        window: Window | None = None,
        seed: int = 0,
        label: str = "",
    ) -> Injection:
        """Inverted dropout at rate ``p`` on the residual stream at ``layers`` over
        ``window`` (every token by default), its mask drawn from ``seed``. ``p = 0`` is
        exactly no injection (the engine drops it)."""
        return Injection(
            torch.zeros(0),
            layers,
            p,
            window or Window.all(),
            "dropout",
            label or f"dropout:p{p:g}",
            seed,
        )

    def __post_init__(self) -> None:
        v = self.vector
        if not isinstance(v, torch.Tensor) or v.dim() != 1:
            raise InjectionError("An injection vector must be a 1-D tensor.")
        if not torch.isfinite(v).all():
            raise InjectionError(
                f"Injection vector {self.label or ''} contains NaN or infinite values.".replace(
                    "  ", " "
                )
            )
        if not math.isfinite(self.strength):
            raise InjectionError(f"Injection strength {self.strength} is not a finite number.")
        if self.mode not in MODES:
            raise InjectionError(
                f"Unknown injection mode {self.mode!r}; use add, project_out or dropout."
            )
        if self.mode == "dropout" and not 0.0 <= self.strength < 1.0:
            raise InjectionError(f"Dropout rate {self.strength} is not in [0, 1).")
        if self.mode == "project_out" and float(v.norm()) == 0.0:
            raise InjectionError("Cannot project out a zero vector.")

    def describe(self) -> dict[str, Any]:
        layers = self.layers if isinstance(self.layers, tuple) else (self.layers,)
        out = {
            "label": self.label,
            "layers": list(layers),
            "strength": self.strength,
            "window": self.window.describe(),
            "mode": self.mode,
            "vector_norm": float(self.vector.float().norm()),
        }
        if self.mode == "dropout":
            out["seed"] = self.seed
        return out


@dataclass(frozen=True)
class ResolvedInjection:
    """An injection bound to one row: concrete layer indices and token range."""

    layers: tuple[int, ...]
    start: int
    end: int
    delta: torch.Tensor  # add: strength*vector; project_out: unit vector; dropout: empty
    scale: float  # project_out: strength; dropout: the rate p; add: unused
    mode: Mode
    seed: int = 0  # dropout: the mask's seed


def resolve_injection(
    inj: Injection,
    n_layers: int,
    hidden: int,
    prompt_len: int,
    offsets: Sequence[tuple[int, int]] | None = None,
    text: str | None = None,
) -> ResolvedInjection:
    if inj.mode == "dropout":
        layers = resolve_layers(inj.layers, n_layers)
        start, end = inj.window.resolve(prompt_len, offsets, text)
        return ResolvedInjection(
            layers, start, end, torch.zeros(0), float(inj.strength), "dropout", inj.seed
        )
    if inj.vector.shape[0] != hidden:
        raise InjectionError(
            f"Injection vector has size {inj.vector.shape[0]} but the model's hidden size "
            f"is {hidden}."
        )
    layers = resolve_layers(inj.layers, n_layers)
    start, end = inj.window.resolve(prompt_len, offsets, text)
    v = inj.vector.detach().float()
    if inj.mode == "add":
        return ResolvedInjection(layers, start, end, v * inj.strength, 0.0, "add")
    return ResolvedInjection(layers, start, end, v / v.norm(), float(inj.strength), "project_out")


@dataclass
class Positions:
    """For the forward call in flight: true token position and validity of every column."""

    position: torch.Tensor  # [B, T] long: unpadded position of each column
    valid: torch.Tensor  # [B, T] bool: False for padding columns
    rows: torch.Tensor | None = None  # batch rows these rows stand for (None: all, in order)


@dataclass
class _Slot:
    """One layer's injections, at most one per row, as batched tensors."""

    mode: Mode
    rows: torch.Tensor  # [B] bool: row has an injection in this slot
    delta: torch.Tensor  # [B, d] ([B, 0] for dropout)
    scale: torch.Tensor  # [B]
    start: torch.Tensor  # [B]
    end: torch.Tensor  # [B]
    seed: torch.Tensor  # [B] long: dropout mask seeds


class SteeringHooks:
    """Per-row injections for one batch, installed as forward hooks on decoder layers."""

    def __init__(
        self,
        layers: nn.ModuleList,
        rows: Sequence[Sequence[ResolvedInjection]],
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.layers = layers
        self.batch = len(rows)
        self.positions: Positions | None = None
        self.paused = False  # the shared-prefix pass runs before any injected position
        self._slots: dict[int, list[_Slot]] = {}
        # Group per layer into "slots" holding at most one injection per row (usually one
        # slot per layer), so each slot is a single batched tensor operation.
        per_layer: dict[int, list[tuple[Mode, dict[int, ResolvedInjection]]]] = {}
        for r, injs in enumerate(rows):
            for inj in injs:
                for layer in inj.layers:
                    slots = per_layer.setdefault(layer, [])
                    free = [m for mode, m in slots if mode == inj.mode and r not in m]
                    if free:
                        free[0][r] = inj
                    else:
                        slots.append((inj.mode, {r: inj}))
        for layer, slot_list in per_layer.items():
            self._slots[layer] = [
                self._build_slot(mode, entries, device, dtype) for mode, entries in slot_list
            ]

    def _build_slot(
        self,
        mode: Mode,
        entries: dict[int, ResolvedInjection],
        device: torch.device,
        dtype: torch.dtype,
    ) -> _Slot:
        d = next(iter(entries.values())).delta.shape[0]
        delta = torch.zeros(self.batch, d)
        scale = torch.zeros(self.batch)
        start = torch.zeros(self.batch, dtype=torch.long)
        end = torch.zeros(self.batch, dtype=torch.long)
        seed = torch.zeros(self.batch, dtype=torch.long)
        has = torch.zeros(self.batch, dtype=torch.bool)
        for r, e in entries.items():
            has[r], delta[r], scale[r], start[r], end[r] = True, e.delta, e.scale, e.start, e.end
            seed[r] = e.seed
        return _Slot(
            mode,
            has.to(device),
            delta.to(device=device, dtype=dtype),
            # A dropout rate stays float32: 1 / (1 - p) must not round in half precision.
            scale.to(device=device, dtype=torch.float32 if mode == "dropout" else dtype),
            start.to(device),
            end.to(device),
            seed.to(device),
        )

    @property
    def touched_layers(self) -> list[int]:
        return sorted(self._slots)

    def earliest_start(self) -> int:
        """First position any injection touches (``OPEN_END`` if none)."""
        starts = [
            int(s.start[s.rows].min())
            for slots in self._slots.values()
            for s in slots
            if bool(s.rows.any())
        ]
        return min(starts, default=OPEN_END)

    def _row_minimum(self, value: Callable[[int, _Slot, int], int]) -> list[int | None]:
        """Per batch row, the least ``value(layer, slot, row)`` over its injections."""
        out: list[int | None] = [None] * self.batch
        for layer, slots in self._slots.items():
            for s in slots:
                for r in s.rows.nonzero()[:, 0].tolist():
                    v, old = value(layer, s, r), out[r]
                    out[r] = v if old is None else min(old, v)
        return out

    def row_starts(self) -> list[int]:
        """Per batch row, the first position any of its injections touches."""
        starts = self._row_minimum(lambda _layer, s, r: int(s.start[r]))
        return [OPEN_END if x is None else x for x in starts]

    def row_lowest_layers(self) -> list[int]:
        """Per batch row, the lowest layer any of its injections touches (0 if none)."""
        lowest = self._row_minimum(lambda layer, _s, _r: layer)
        return [0 if x is None else x for x in lowest]

    def _hook(self, layer: int) -> Any:
        slots = self._slots[layer]

        def hook(_module: nn.Module, _args: Any, output: Any) -> Any:
            if self.paused:
                return None
            pos = self.positions
            if pos is None:
                raise RuntimeError("SteeringHooks ran without positions; use the engine.")
            hidden = block_output(output)
            for slot in slots:
                rows, start, end = slot.rows, slot.start, slot.end
                delta, scale, seed = slot.delta, slot.scale, slot.seed
                if pos.rows is not None:  # a pass over a subset of the batch's rows
                    sel = pos.rows
                    rows, start, end = rows[sel], start[sel], end[sel]
                    delta, scale, seed = delta[sel], scale[sel], seed[sel]
                p = pos.position
                mask = pos.valid & rows[:, None] & (p >= start[:, None]) & (p < end[:, None])
                if not bool(mask.any()):
                    continue
                if slot.mode == "add":
                    changed = hidden + delta[:, None, :]
                elif slot.mode == "dropout":
                    changed = dropped(hidden, seed, scale, layer, p)
                else:
                    along = (hidden * delta[:, None, :]).sum(-1, keepdim=True)
                    changed = hidden - scale[:, None, None] * along * delta[:, None, :]
                hidden = torch.where(mask[..., None], changed, hidden)
            return replace_block_output(output, hidden)

        return hook

    @contextmanager
    def active(self) -> Iterator[SteeringHooks]:
        handles = []
        try:
            for layer in self.touched_layers:
                handles.append(self.layers[layer].register_forward_hook(self._hook(layer)))
            yield self
        finally:
            for h in handles:
                h.remove()
            self.positions = None


def count_hooks(model: nn.Module) -> int:
    """Forward hooks currently registered anywhere in ``model`` (tests use this)."""
    return sum(len(m._forward_hooks) for m in model.modules())
