"""OpenAI compatibility, checked with the official ``openai`` client against a running
server: chat and completions, streaming, log-probs, seeds, stop strings applied while
generating, usage, the model endpoints, and unsupported fields refused by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
import torch
from fastapi import FastAPI
from serve_helpers import CHAT, assert_alive, assert_error, wait_until

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel

Start = Callable[[FastAPI], str]
MESSAGES: Any = CHAT["messages"]


@pytest.fixture(scope="module")
def oai(client: httpx.Client) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{client.base_url}/v1", api_key="unused", max_retries=0) as o:
        yield o


def test_chat_and_usage(oai: openai.OpenAI, client: httpx.Client) -> None:
    out = oai.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=6)
    raw = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 6}).json()
    assert out.choices[0].message.content == raw["choices"][0]["message"]["content"]
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].finish_reason == "length"
    assert out.usage is not None and out.usage.completion_tokens == 6
    assert out.usage.total_tokens == out.usage.prompt_tokens + 6
    assert out.model == "tiny" and out.object == "chat.completion"


def test_chat_streams_the_same_text(oai: openai.OpenAI) -> None:
    whole = oai.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=12)
    chunks = list(
        oai.chat.completions.create(
            model="tiny",
            messages=MESSAGES,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_completions_stream_every_prompt(oai: openai.OpenAI) -> None:
    prompts = ["The sea is", "Mountains are"]
    whole = oai.completions.create(model="tiny", prompt=prompts, max_tokens=8)
    texts = ["", ""]
    finish: dict[int, str | None] = {}
    for c in oai.completions.create(model="tiny", prompt=prompts, max_tokens=8, stream=True):
        for choice in c.choices:
            texts[choice.index] += choice.text
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert texts == [ch.text for ch in sorted(whole.choices, key=lambda ch: ch.index)]
    assert finish == {0: "length", 1: "length"}
    assert whole.usage is not None and whole.usage.completion_tokens == 16


def test_stop_ends_a_row_while_generating(oai: openai.OpenAI, tiny_app: FastAPI) -> None:
    full = oai.completions.create(model="tiny", prompt="The sea", max_tokens=24, logprobs=0)
    lp = full.choices[0].logprobs
    assert lp is not None and lp.text_offset is not None and len(lp.text_offset) == 24
    text = full.choices[0].text
    stop = text[lp.text_offset[8] : lp.text_offset[10]]
    expected = text[: text.find(stop)]
    worker = tiny_app.state.introscope
    before = worker.stats["ended_early"]
    cut = oai.completions.create(model="tiny", prompt="The sea", max_tokens=24, stop=[stop])
    assert cut.choices[0].text == expected
    assert cut.choices[0].finish_reason == "stop"
    assert cut.usage is not None and cut.usage.completion_tokens <= 10  # not 24
    assert worker.stats["ended_early"] == before + 1
    streamed = "".join(
        c.choices[0].text
        for c in oai.completions.create(
            model="tiny", prompt="The sea", max_tokens=24, stop=[stop], stream=True
        )
    )
    assert streamed == expected


def test_a_stopped_row_leaves_its_batchmate_alone(client: httpx.Client, tiny_app: FastAPI) -> None:
    worker = tiny_app.state.introscope
    long = {"prompt": "Mountains are", "max_tokens": 20}
    alone = client.post("/v1/completions", json=long).json()
    first_word = alone["choices"][0]["text"].split()[0]
    short = {"prompt": "Mountains are", "max_tokens": 20, "stop": first_word}
    with ThreadPoolExecutor(2) as pool:
        with worker.lock:
            futures = [pool.submit(client.post, "/v1/completions", json=b) for b in (short, long)]
            wait_until(lambda: worker.queued() == 2)
        s, l_ = (f.result().json() for f in futures)
    assert s["choices"][0]["finish_reason"] == "stop"
    assert s["usage"]["completion_tokens"] < 20
    assert l_["choices"] == alone["choices"]


def test_logprobs(oai: openai.OpenAI, tiny_lm: LoadedModel) -> None:
    out = oai.chat.completions.create(
        model="tiny", messages=MESSAGES, max_tokens=6, logprobs=True, top_logprobs=3
    )
    lp = out.choices[0].logprobs
    assert lp is not None and lp.content is not None and len(lp.content) == 6
    assert "".join(t.token for t in lp.content) == out.choices[0].message.content
    for t in lp.content:
        assert len(t.top_logprobs) == 3
        assert t.logprob == t.top_logprobs[0].logprob  # greedy takes the most likely token
        assert t.logprob <= 0 and bytes(t.bytes or []).decode() == t.token
    prompt = tiny_lm.chat_prompt([("user", MESSAGES[0]["content"])])
    first = Engine(tiny_lm).next_token_logprobs([prompt])[0]
    assert lp.content[0].logprob == pytest.approx(float(first.max()), abs=1e-4)
    assert lp.content[0].top_logprobs[1].logprob == pytest.approx(
        float(torch.topk(first, 2).values[1]), abs=1e-4
    )
    legacy = oai.completions.create(model="tiny", prompt="The sea", max_tokens=5, logprobs=2)
    llp = legacy.choices[0].logprobs
    assert llp is not None and llp.tokens is not None and llp.top_logprobs is not None
    assert len(llp.tokens) == len(llp.top_logprobs) == 5
    assert "".join(llp.tokens) == legacy.choices[0].text
    assert all(len(top) == 2 for top in llp.top_logprobs)


def test_seeds_repeat_and_unseeded_samples_differ(oai: openai.OpenAI) -> None:
    def sample(**kw: Any) -> str | None:
        out = oai.chat.completions.create(
            model="tiny", messages=MESSAGES, max_tokens=8, temperature=1.0, **kw
        )
        return out.choices[0].message.content

    assert sample(seed=11) == sample(seed=11)
    assert sample(seed=11) != sample(seed=12)
    assert sample() != sample()


def test_health_and_model_endpoints(oai: openai.OpenAI, client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert [m.id for m in oai.models.list()] == ["tiny"]
    assert oai.models.retrieve("tiny").id == "tiny"
    r = client.get("/v1/models/gpt-4")
    assert_error(r, 404, "model", "one model")
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4")


UNSUPPORTED = [
    ("tools", [{"type": "function", "function": {"name": "f"}}], "tools"),
    ("tool_choice", "auto", "tool_choice"),
    ("functions", [{"name": "f"}], "functions"),
    ("logit_bias", {"50256": -100}, "logit_bias"),
    ("response_format", {"type": "json_object"}, "response_format"),
    ("presence_penalty", 0.5, "presence_penalty"),
    ("frequency_penalty", 1, "frequency_penalty"),
    ("n", 2, "n"),
    ("colour", "red", "colour"),
    ("messages", [{"role": "user", "content": "x", "tool_calls": [{}]}], "messages.0.tool_calls"),
    ("messages", [{"role": "tool", "content": "x"}], "messages.0.role"),
    ("messages", [{"role": "user", "content": [{"type": "image_url"}]}], "messages.0.content"),
    (
        "introscope",
        {"concept": "Dust", "layer": 1, "strength": 1, "colour": 1},
        "introscope.colour",
    ),
]


@pytest.mark.parametrize(("field", "value", "param"), UNSUPPORTED, ids=[u[2] for u in UNSUPPORTED])
def test_unsupported_fields_are_refused_by_name(
    client: httpx.Client, field: str, value: Any, param: str
) -> None:
    r = client.post("/v1/chat/completions", json={**CHAT, field: value})
    assert_error(r, 400, param, repr(param) if field != "n" else "n=1")
    assert_alive(client)


def test_neutral_values_of_unsupported_fields_are_accepted(
    client: httpx.Client, oai: openai.OpenAI
) -> None:
    neutral = {"tools": [], "logit_bias": {}, "presence_penalty": 0, "frequency_penalty": 0.0}
    assert client.post("/v1/chat/completions", json={**CHAT, **neutral}).status_code == 200
    r = client.post("/v1/completions", json={"prompt": "a", "echo": False, "best_of": 1})
    assert r.status_code == 200
    r = client.post("/v1/completions", json={"prompt": "a", "echo": True})
    assert_error(r, 400, "echo", "'echo'")
    with pytest.raises(openai.BadRequestError, match="logit_bias"):
        oai.chat.completions.create(
            model="tiny", messages=MESSAGES, max_tokens=2, logit_bias={"5": 10}
        )
    with pytest.raises(openai.BadRequestError, match="logprobs are not available"):
        oai.chat.completions.create(
            model="tiny", messages=MESSAGES, max_tokens=2, logprobs=True, stream=True
        )
