"""Request bodies: the OpenAI fields the server honours, and the ones it refuses by name.

Types are strict (``"12"`` is not an integer, ``true`` is not a number) and floats must be
finite. A field the server does not implement is refused with a 400 naming it, rather than
silently ignored, unless it carries its neutral value (``"tools": []``,
``"presence_penalty": 0``, ``"logit_bias": {}``...), which clients often send by default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

FiniteFloat = Annotated[float, Strict(), AllowInfNan(False)]

#: Error type of an unsupported field (read by the app's validation-error handler).
UNSUPPORTED = "unsupported_field"

#: OpenAI fields the server does not implement, with the values that mean "not used".
NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "frequency_penalty": (None, 0),
    "presence_penalty": (None, 0),
    "repetition_penalty": (None, 1),
    "logit_bias": (None, {}),
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "parallel_tool_calls": (None,),
    "functions": (None, []),
    "function_call": (None, "none"),
    "response_format": (None, {"type": "text"}),
    "store": (None, False),
    "metadata": (None, {}),
    "echo": (None, False),
    "best_of": (None, 1),
    "suffix": (None, ""),
    "service_tier": (None, "auto", "default"),
    "modalities": (None, ["text"]),
    "audio": (None,),
    "prediction": (None,),
    "reasoning_effort": (None,),
    "web_search_options": (None,),
    "min_p": (None, 0),
    "top_k": (None, -1, 0),
    # message fields
    "tool_calls": (None, []),
    "tool_call_id": (None,),
    "refusal": (None,),
}


def _same(value: Any, neutral: Any) -> bool:
    if neutral is None:
        return value is None
    if isinstance(neutral, bool) or isinstance(value, bool):
        return value is neutral
    if isinstance(neutral, int | float):
        return isinstance(value, int | float) and value == neutral
    return type(value) is type(neutral) and bool(value == neutral)


def is_neutral(name: str, value: Any) -> bool:
    """True when ``value`` of the unsupported field ``name`` means "not used"."""
    return any(_same(value, v) for v in NEUTRAL_VALUES.get(name, ()))


class OpenAIBody(BaseModel):
    """Refuses any field it does not declare, except a known one at its neutral value."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def refuse_unsupported(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kept = {}
        for key, value in data.items():
            if key in cls.model_fields:
                kept[key] = value
            elif not is_neutral(key, value):
                raise PydanticCustomError(
                    UNSUPPORTED,
                    "The field {field} is not supported by the introscope server; remove it.",
                    {"field": str(key)[:64]},
                )
        return kept


class InjectionSpec(OpenAIBody):
    """The ``introscope`` body field."""

    concept: StrictStr | None = None
    vector: StrictStr | None = None
    vector_file: StrictStr | None = None
    layer: StrictInt | FiniteFloat | StrictStr
    strength: FiniteFloat
    window: StrictStr = "all"
    mode: Literal["add", "project_out"] = "add"


class StreamOptions(OpenAIBody):
    include_usage: StrictBool = False


class TextPart(OpenAIBody):
    type: Literal["text"]
    text: StrictStr


class ChatMessage(OpenAIBody):
    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | list[TextPart] | None = None
    name: StrictStr | None = None  # accepted and ignored: it does not change the prompt


class CommonRequest(OpenAIBody):
    model: StrictStr | None = None  # ignored: the server serves one model
    max_tokens: StrictInt | None = None
    temperature: FiniteFloat = 0.0
    top_p: FiniteFloat = 1.0
    seed: StrictInt | None = None
    n: StrictInt = 1
    stop: StrictStr | list[StrictStr] | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    user: StrictStr | None = None  # accepted and ignored
    introscope: InjectionSpec | None = None


class ChatRequest(CommonRequest):
    messages: list[ChatMessage]
    max_completion_tokens: StrictInt | None = None
    logprobs: StrictBool = False
    top_logprobs: StrictInt | None = None


class CompletionRequest(CommonRequest):
    prompt: StrictStr | list[StrictStr]
    logprobs: StrictInt | None = None
