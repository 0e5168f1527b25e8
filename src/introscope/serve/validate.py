"""Checks on a parsed request that its schema cannot express: ranges, limits, the context.

Each failure is a 400 whose ``param`` names the field at fault.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from introscope.core.models import LoadedModel
from introscope.serve.errors import bad_request
from introscope.serve.limits import ServeLimits
from introscope.serve.schemas import ChatMessage, ChatRequest, CommonRequest, CompletionRequest

MAX_TEMPERATURE = 2.0
MAX_COMPLETION_LOGPROBS = 5  # OpenAI's own bound for /v1/completions


@dataclass(frozen=True)
class Sampling:
    """How to decode, common to every prompt of a request."""

    temperature: float
    top_p: float
    seed: int
    stop: tuple[str, ...]
    top_logprobs: int | None
    stream: bool
    include_usage: bool


def sampling(req: CommonRequest, limits: ServeLimits, top_logprobs: int | None) -> Sampling:
    if req.n != 1:
        raise bad_request(f"Only n=1 is supported, not {req.n}; send several requests.", "n")
    if not 0 <= req.temperature <= MAX_TEMPERATURE:
        raise bad_request(
            f"temperature must be between 0 and {MAX_TEMPERATURE:g}, not {req.temperature:g}.",
            "temperature",
        )
    if not 0 < req.top_p <= 1:
        raise bad_request(f"top_p must be in (0, 1], not {req.top_p:g}.", "top_p")
    if req.seed is not None and not 0 <= req.seed < 2**63:
        raise bad_request(f"seed must be in [0, 2**63), not {req.seed}.", "seed")
    # Unseeded sampling draws a fresh seed: two unseeded calls differ, as with OpenAI.
    seed = req.seed if req.seed is not None else secrets.randbits(63)
    stops = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
    if len(stops) > limits.max_stop:
        raise bad_request(f"stop takes at most {limits.max_stop} sequences.", "stop")
    if any(not 0 < len(s) <= limits.max_stop_chars for s in stops):
        raise bad_request(
            f"Each stop sequence must have 1 to {limits.max_stop_chars} characters.", "stop"
        )
    if req.stream and top_logprobs is not None:
        raise bad_request("logprobs are not available while streaming.", "logprobs")
    if req.stream_options is not None and not req.stream:
        raise bad_request("stream_options needs stream set to true.", "stream_options")
    include_usage = req.stream_options is not None and req.stream_options.include_usage
    return Sampling(
        req.temperature, req.top_p, seed, stops, top_logprobs, req.stream, include_usage
    )


def chat_logprobs(req: ChatRequest, limits: ServeLimits) -> int | None:
    """None: no log-probs; otherwise how many alternatives to list per token."""
    if req.top_logprobs is not None:
        if not req.logprobs:
            raise bad_request("top_logprobs needs logprobs set to true.", "top_logprobs")
        if not 0 <= req.top_logprobs <= limits.max_top_logprobs:
            raise bad_request(
                f"top_logprobs must be between 0 and {limits.max_top_logprobs}.", "top_logprobs"
            )
    return (req.top_logprobs or 0) if req.logprobs else None


def completion_logprobs(req: CompletionRequest) -> int | None:
    if req.logprobs is not None and not 0 <= req.logprobs <= MAX_COMPLETION_LOGPROBS:
        raise bad_request(f"logprobs must be between 0 and {MAX_COMPLETION_LOGPROBS}.", "logprobs")
    return req.logprobs


def chat_prompt(lm: LoadedModel, messages: list[ChatMessage], limits: ServeLimits) -> str:
    """The chat-templated prompt; a trailing assistant message is continued (prefill)."""
    if not messages:
        raise bad_request("messages needs at least one message.", "messages")
    if len(messages) > limits.max_messages:
        raise bad_request(f"messages takes at most {limits.max_messages} messages.", "messages")
    turns = []
    for m in messages:
        text = m.content if isinstance(m.content, str) else "".join(p.text for p in m.content or [])
        turns.append(("system" if m.role == "developer" else m.role, text))
    system = turns.pop(0)[1] if turns[0][0] == "system" else None
    if not turns:
        raise bad_request("messages needs at least one user or assistant message.", "messages")
    return lm.chat_prompt(turns, system=system)


def completion_prompts(req: CompletionRequest, limits: ServeLimits) -> list[str]:
    prompts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
    if not prompts:
        raise bad_request("prompt must be a string or a non-empty list of strings.", "prompt")
    if len(prompts) > limits.max_prompts:
        raise bad_request(
            f"prompt lists {len(prompts)} prompts; this server takes at most "
            f"{limits.max_prompts} per request.",
            "prompt",
        )
    return prompts


def budget(
    requested: int | None,
    n_prompt: int,
    context: int,
    limits: ServeLimits,
    *,
    param: str = "max_tokens",
    prompt_param: str = "prompt",
) -> int:
    """The number of tokens to generate: the request's (``param``), checked, or the default
    that fits in the context."""
    if requested is None:
        room = context - n_prompt
        if room < 1:
            raise bad_request(
                f"The prompt has {n_prompt} tokens, which leaves no room in the model's "
                f"context of {context} tokens.",
                prompt_param,
            )
        return min(limits.default_max_tokens, room)
    if requested < 1:
        raise bad_request(f"{param} must be at least 1, not {requested}.", param)
    if requested > limits.max_tokens:
        raise bad_request(
            f"{param} is {requested}, above this server's limit of {limits.max_tokens}.", param
        )
    if n_prompt + requested > context:
        raise bad_request(
            f"The prompt has {n_prompt} tokens and {param} is {requested}: "
            f"{n_prompt + requested} tokens, more than the model's context of {context}.",
            param,
        )
    return requested
