"""Response bodies and server-sent-event chunks in the OpenAI shapes."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from introscope.serve.jobs import Completion, TokenLogprob

#: Stands in for a log-probability JSON cannot carry (-inf): OpenAI uses the same value.
FLOOR_LOGPROB = -9999.0


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: each printable stand-in char -> its byte."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}


BYTE_DECODER = _byte_decoder()


@dataclass(frozen=True)
class Envelope:
    """The fields every body of one response shares."""

    id: str
    created: int
    model: str
    fingerprint: str | None
    injection: dict[str, Any] | None

    @staticmethod
    def new(
        prefix: str,
        created: int,
        model: str,
        fingerprint: str | None,
        injection: dict[str, Any] | None,
    ) -> Envelope:
        return Envelope(f"{prefix}-{uuid.uuid4().hex[:24]}", created, model, fingerprint, injection)

    def fields(self, obj: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": self.fingerprint,
        }


class TokenText:
    """A token's text and bytes as OpenAI's log-probs report them."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def text(self, token_id: int) -> str:
        return str(self.tokenizer.decode([token_id], skip_special_tokens=False))

    def bytes(self, token_id: int) -> list[int]:
        text = self.text(token_id)
        piece = self.tokenizer.convert_ids_to_tokens(token_id)
        if isinstance(piece, str) and piece and all(c in BYTE_DECODER for c in piece):
            raw = bytes(BYTE_DECODER[c] for c in piece)
            # Byte-level vocabularies only: elsewhere the same chars mean something else.
            if raw.decode("utf-8", errors="replace") == text:
                return list(raw)
        return list(text.encode("utf-8"))


def finite(logprob: float) -> float:
    return logprob if math.isfinite(logprob) else FLOOR_LOGPROB


def usage(completions: Sequence[Completion]) -> dict[str, int]:
    prompt = sum(c.n_prompt_tokens for c in completions)
    generated = sum(len(c.token_ids) for c in completions)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
    }


def chat_logprobs(tt: TokenText, entries: Sequence[TokenLogprob]) -> dict[str, Any]:
    def item(token_id: int, logprob: float) -> dict[str, Any]:
        return {"token": tt.text(token_id), "logprob": finite(logprob), "bytes": tt.bytes(token_id)}

    content = [
        {**item(e.token_id, e.logprob), "top_logprobs": [item(t, lp) for t, lp in e.top]}
        for e in entries
    ]
    return {"content": content, "refusal": None}


def completion_logprobs(tt: TokenText, entries: Sequence[TokenLogprob]) -> dict[str, Any]:
    return {
        "tokens": [tt.text(e.token_id) for e in entries],
        "token_logprobs": [finite(e.logprob) for e in entries],
        "top_logprobs": [{tt.text(t): finite(lp) for t, lp in e.top} for e in entries],
        "text_offset": [e.text_offset for e in entries],
    }


def chat_body(env: Envelope, c: Completion, tt: TokenText) -> dict[str, Any]:
    logprobs = chat_logprobs(tt, c.logprobs) if c.logprobs is not None else None
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": c.text},
        "finish_reason": c.finish_reason,
        "logprobs": logprobs,
    }
    return {
        **env.fields("chat.completion"),
        "choices": [choice],
        "usage": usage([c]),
        "introscope": env.injection,
    }


def completion_body(env: Envelope, cs: Sequence[Completion], tt: TokenText) -> dict[str, Any]:
    choices = [
        {
            "index": i,
            "text": c.text,
            "finish_reason": c.finish_reason,
            "logprobs": completion_logprobs(tt, c.logprobs) if c.logprobs is not None else None,
        }
        for i, c in enumerate(cs)
    ]
    return {
        **env.fields("text_completion"),
        "choices": choices,
        "usage": usage(cs),
        "introscope": env.injection,
    }


def event(data: dict[str, Any] | str) -> str:
    """One server-sent event."""
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def chunk(env: Envelope, chat: bool, index: int, text: str | None, finish: str | None) -> str:
    """A streamed piece of choice ``index``: new text and/or its finish reason."""
    if chat:
        delta: dict[str, Any] = {} if text is None else {"content": text}
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return event({**env.fields("chat.completion.chunk"), "choices": [choice]})
    choice = {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}
    return event({**env.fields("text_completion"), "choices": [choice]})


def first_chunk(env: Envelope, n: int) -> str:
    """Chat streams open with the assistant role (one entry per choice) and the injection."""
    choices = [
        {"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
         "finish_reason": None}
        for i in range(n)
    ]  # fmt: skip
    body = {**env.fields("chat.completion.chunk"), "choices": choices}
    return event({**body, "introscope": env.injection})


def usage_chunk(env: Envelope, chat: bool, cs: Sequence[Completion]) -> str:
    obj = "chat.completion.chunk" if chat else "text_completion"
    return event({**env.fields(obj), "choices": [], "usage": usage(cs)})
