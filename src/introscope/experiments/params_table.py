"""A slice's ``[params]`` table read through a pydantic model of its own keys.

The spec keeps ``[params]`` as a plain table (experiment-specific settings); each slice that
reads one declares a :class:`ParamsTable` subclass, and :func:`params_table` turns the first
problem into a :class:`SpecError` naming the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from introscope.errors import SpecError

if TYPE_CHECKING:
    from introscope.spec import Spec

T = TypeVar("T", bound=BaseModel)


class ParamsTable(BaseModel):
    """Base of a slice's ``[params]`` table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def params_table(spec: Spec, model: type[T]) -> T:
    """``spec.params`` as ``model``; the first problem is a :class:`SpecError` naming the
    key (``params.shots: ...``)."""
    try:
        return model.model_validate(spec.params)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(table)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
        raise SpecError(
            f"params.{key}: {msg.removeprefix('Value error, ')} (the {spec.experiment} "
            f"experiment reads {', '.join(model.model_fields)})."
        ) from None
