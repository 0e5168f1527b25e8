"""Limits: max_tokens and the context, body size, prompt lists, the queue, timeouts and
clients that go away. Every attack gets its documented answer and the server survives it."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from serve_helpers import (
    CHAT,
    assert_alive,
    assert_error,
    raw_exchange,
    status_of,
    wait_until,
)

from introscope.core.models import LoadedModel
from introscope.serve import ServeLimits, create_app

Start = Callable[[FastAPI], str]


def test_max_tokens_is_capped_by_the_server_and_the_context(
    tiny_lm: LoadedModel, start: Start
) -> None:
    limits = ServeLimits(max_tokens=32, default_max_tokens=16)
    with httpx.Client(base_url=start(create_app(tiny_lm, limits=limits)), timeout=60) as c:
        r = c.post("/v1/chat/completions", json={**CHAT, "max_tokens": 33})
        assert_error(r, 400, "max_tokens", "33", "limit of 32")
        r = c.post("/v1/chat/completions", json={**CHAT, "max_completion_tokens": 0})
        assert_error(r, 400, "max_completion_tokens", "at least 1")
        # Without max_tokens the server's default applies.
        r = c.post("/v1/completions", json={"prompt": "Once upon a time"})
        assert r.json()["usage"]["completion_tokens"] == 16
        assert_alive(c)
    # The tiny model's context is 512 tokens.
    with httpx.Client(base_url=start(create_app(tiny_lm)), timeout=60) as c:
        prompt = "word " * 500
        n_prompt = len(tiny_lm.encode(prompt))
        r = c.post("/v1/completions", json={"prompt": prompt, "max_tokens": 20})
        assert_error(
            r, 400, "max_tokens", f"{n_prompt} tokens", "20", str(n_prompt + 20), "context of 512"
        )
        r = c.post("/v1/completions", json={"prompt": "word " * 600})
        assert_error(r, 400, "prompt", "no room", "context of 512 tokens")
        r = c.post("/v1/completions", json={"prompt": prompt, "max_tokens": 512 - n_prompt})
        assert r.status_code == 200, r.text
        assert r.json()["usage"]["total_tokens"] <= 512
        assert_alive(c)


def test_body_size_is_limited_before_the_body_is_read(tiny_lm: LoadedModel, start: Start) -> None:
    url = start(create_app(tiny_lm, limits=ServeLimits(max_body_bytes=4096)))
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/v1/chat/completions", json={**CHAT, "user": "x" * 5000})
        assert_error(r, 413, None, "larger than 4096 bytes")
        # A declared length over the limit is refused without waiting for the body.
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n"
        )
        assert status_of(raw_exchange(url, head)) == 413
        # A chunked body is cut off as soon as it passes the limit.
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
        assert status_of(raw_exchange(url, head, [chunk] * 4)) == 413
        assert_alive(c)


def test_prompt_lists_are_limited(tiny_lm: LoadedModel, start: Start) -> None:
    url = start(create_app(tiny_lm, limits=ServeLimits(max_prompts=3)))
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/v1/completions", json={"prompt": ["a", "b", "c", "d"], "max_tokens": 2})
        assert_error(r, 400, "prompt", "4 prompts", "at most 3")
        r = c.post("/v1/completions", json={"prompt": [], "max_tokens": 2})
        assert_error(r, 400, "prompt", "non-empty")
        r = c.post("/v1/completions", json={"prompt": ["a", "b", "c"], "max_tokens": 2})
        assert [ch["index"] for ch in r.json()["choices"]] == [0, 1, 2]
        assert_alive(c)


def test_a_full_queue_answers_429(tiny_lm: LoadedModel, start: Start) -> None:
    app = create_app(tiny_lm, limits=ServeLimits(max_queue=2))
    worker = app.state.introscope
    with httpx.Client(base_url=start(app), timeout=60) as c, ThreadPoolExecutor(2) as pool:
        with worker.lock:  # the model is busy: requests wait in the queue
            waiting = [pool.submit(c.post, "/v1/chat/completions", json=CHAT) for _ in range(2)]
            wait_until(lambda: worker.queued() == 2)
            r = c.post("/v1/chat/completions", json=CHAT)
            assert_error(r, 429, None, "busy")
            assert r.headers["retry-after"] == "1"
            # A completions request is admitted whole or not at all.
            r = c.post("/v1/completions", json={"prompt": "hi", "max_tokens": 2})
            assert r.status_code == 429
        assert [f.result().status_code for f in waiting] == [200, 200]
        assert_alive(c)


def test_a_request_that_waits_too_long_gets_504(tiny_lm: LoadedModel, start: Start) -> None:
    app = create_app(tiny_lm, limits=ServeLimits(timeout_s=1.0))
    worker = app.state.introscope
    with httpx.Client(base_url=start(app), timeout=60) as c, ThreadPoolExecutor(1) as pool:
        with worker.lock:
            late = pool.submit(c.post, "/v1/chat/completions", json=CHAT)
            wait_until(lambda: worker.queued() == 1)
            time.sleep(1.2)
        assert_error(late.result(), 504, None, "longer than 1 s")
        assert worker.stats["timed_out"] == 1 and worker.stats["requests"] == 0
        assert_alive(c)


def test_a_request_that_runs_too_long_is_ended(slow_lm: LoadedModel, start: Start) -> None:
    app = create_app(slow_lm, limits=ServeLimits(timeout_s=0.5))
    worker = app.state.introscope
    with httpx.Client(base_url=start(app), timeout=60) as c:
        began = time.monotonic()
        r = c.post("/v1/completions", json={"prompt": "Once", "max_tokens": 400})
        assert_error(r, 504, None, "longer than 0.5 s")
        assert time.monotonic() - began < 3.0  # 400 steps would take 4 s or more
        assert worker.stats["timed_out"] == 1
        assert worker.stats["steps"] < 300
        assert_alive(c)


@pytest.mark.parametrize("where", ["queued", "running", "streaming"])
def test_a_client_that_goes_away_is_not_waited_for(
    slow_lm: LoadedModel, start: Start, where: str
) -> None:
    app = create_app(slow_lm)
    worker = app.state.introscope
    long = {"prompt": "Once", "max_tokens": 400}
    with httpx.Client(base_url=start(app), timeout=60) as c:
        if where == "queued":
            with worker.lock:
                with pytest.raises(httpx.ReadTimeout):
                    c.post("/v1/completions", json=long, timeout=0.5)
                time.sleep(0.3)  # the server notices the disconnect
        elif where == "running":
            with pytest.raises(httpx.ReadTimeout):
                c.post("/v1/completions", json=long, timeout=0.5)
        else:
            with c.stream("POST", "/v1/completions", json={**long, "stream": True}) as r:
                next(r.iter_lines())
        wait_until(lambda: worker.stats["cancelled"] == 1, 10)
        # Its rows never ran, or stopped long before their 400 tokens.
        assert worker.stats["steps"] < 300
        began = time.monotonic()
        assert_alive(c)
        assert time.monotonic() - began < 3.0
