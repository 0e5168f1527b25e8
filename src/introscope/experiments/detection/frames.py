"""The prompts and injection windows of every detection variant, and of the neutral
identification frame (the leakage control).

A variant is a wording (preamble, acknowledgement, trial question, identification prefill)
and an injection window. Every wording keeps the paper's three-turn shape and the
"Trial 1:" marker, so the paper's window (from the trial question through the answer) starts
at the same place in each. The ``internal`` variant keeps the paper's wording and moves the
window onto the acknowledgement turn: the question and answer positions then see the
injection only through attention to the perturbed keys and values of earlier positions.

The neutral frame is a word game that never asks about injected thoughts
(:func:`introscope.experiments.prompts.word_game_turns`); a trial's neutral readout uses the
trial's own injection (vector, layers, strength, mode) with the equivalent window of that
frame: from its question on, or its acknowledgement for ``internal``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from introscope.core.batch import encode_prompt
from introscope.core.models import LoadedModel
from introscope.core.steering import OPEN_END, Injection, Window
from introscope.errors import InjectionError
from introscope.experiments import prompts as P
from introscope.experiments.detection.params import Variant


@dataclass(frozen=True)
class Wording:
    preamble: str
    ack: str
    question: str  # starts with the trial marker
    prefill: str  # the affirmative prefill of the identification readout


PAPER = Wording(P.DETECTION_PREAMBLE, P.DETECTION_ACK, P.DETECTION_QUESTION, P.IDENTIFY_PREFILL)
WORDINGS: dict[Variant, Wording] = {
    "default": PAPER,
    "internal": PAPER,
    "skeptical": Wording(
        P.SKEPTICAL_PREAMBLE, P.SKEPTICAL_ACK, P.DETECTION_QUESTION, P.IDENTIFY_PREFILL
    ),
    "uninformed": Wording(
        P.UNINFORMED_PREAMBLE, P.UNINFORMED_ACK, P.DETECTION_QUESTION, P.IDENTIFY_PREFILL
    ),
    "persona": Wording(P.PERSONA_PREAMBLE, P.PERSONA_ACK, P.PERSONA_QUESTION, P.PERSONA_PREFILL),
}


def turns(variant: Variant, question: str) -> list[tuple[str, str]]:
    w = WORDINGS[variant]
    return [("user", w.preamble), ("assistant", w.ack), ("user", question)]


def detection_prompt(lm: LoadedModel, variant: Variant, yes_no: bool) -> str:
    """The trial prompt: the variant's question, with the yes/no suffix for P(yes)."""
    question = WORDINGS[variant].question + (P.YES_NO_SUFFIX if yes_no else "")
    return lm.chat_prompt(turns(variant, question))


def identify_prompt(lm: LoadedModel, variant: Variant) -> str:
    """The identification readout: the question answered with the affirmative prefill."""
    w = WORDINGS[variant]
    return lm.chat_prompt(turns(variant, w.question), prefill=w.prefill)


def neutral_prompt(lm: LoadedModel) -> str:
    """The neutral frame: the word game, answered with 'It is the word "'."""
    return lm.chat_prompt(P.word_game_turns(), prefill=P.WORD_GAME_PREFILL)


def detection_window(variant: Variant) -> Window:
    """From the trial question through the answer, or the acknowledgement only (internal)."""
    if variant == "internal":
        return Window.span_marker(WORDINGS[variant].ack)
    return Window.from_marker(P.TRIAL_MARKER)


def neutral_window(variant: Variant) -> Window:
    """The neutral frame's equivalent of :func:`detection_window`."""
    if variant == "internal":
        return Window.span_marker(P.WORD_GAME_ACK)
    return Window.from_marker(P.WORD_GAME_MARKER)


def in_neutral_frame(injection: Injection | None, variant: Variant) -> Injection | None:
    """The same injection (vector, layers, strength, mode) over the neutral frame's window."""
    if injection is None:
        return None
    return replace(injection, window=neutral_window(variant))


def window_tokens(lm: LoadedModel, prompt: str, window: Window) -> tuple[int, int]:
    """The token range ``[start, end)`` a window covers in ``prompt`` (end may be open)."""
    enc = encode_prompt(lm.tokenizer, prompt)
    return window.resolve(len(enc.ids), enc.offsets, enc.text)


def check_ends_before(lm: LoadedModel, prompt: str, window: Window, marker: str) -> None:
    """Raise :class:`InjectionError` unless ``window`` ends before the first token of
    ``marker`` (the internal variant must never touch the question or answer)."""
    _, end = window_tokens(lm, prompt, window)
    question_start, _ = window_tokens(lm, prompt, Window.span_marker(marker))
    if end == OPEN_END or end > question_start:
        raise InjectionError(
            f"The earlier-turn window {window.describe()} does not end before {marker!r}: "
            "the question would be injected directly."
        )
