"""User-facing errors.

Every error a user can cause (bad model id, layer out of range, malformed spec, NaN vector,
missing judge key, unreachable endpoint) is an :class:`IntroscopeError` whose message is one
clear sentence. The CLI prints that sentence and exits non-zero; it never shows a traceback
for these.
"""

from __future__ import annotations


class IntroscopeError(Exception):
    """Base class: the message is a complete sentence meant for the user."""


class ModelLoadError(IntroscopeError):
    """A model spec could not be resolved or loaded."""


class LayerError(IntroscopeError):
    """A layer spec is malformed or out of range, or the architecture is unknown."""


class InjectionError(IntroscopeError):
    """An injection is malformed (NaN vector, wrong size, bad window...)."""


class VectorError(IntroscopeError):
    """A vector file is missing, malformed, or was made for another model."""


class SpecError(IntroscopeError):
    """An experiment spec is malformed."""


class JudgeError(IntroscopeError):
    """The LLM judge is misconfigured (missing key, bad URL)."""


class StoreError(IntroscopeError):
    """A run directory or its store is missing or inconsistent."""


class TrainingError(IntroscopeError):
    """An adapter cannot be trained, resumed or loaded (mismatched, corrupted, missing)."""


class AnalysisError(IntroscopeError):
    """A slice's analysis failed on a run; the message names the slice."""


class ExecutorError(IntroscopeError):
    """An executor could not run the batches (Ray missing, a batch failing on every try)."""


class ItemError(SpecError):
    """A file of user items is malformed: ``problems`` holds one sentence per bad line."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []
