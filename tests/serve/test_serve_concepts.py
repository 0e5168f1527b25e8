"""On-the-fly concept vectors: bounded by a rate and a backlog, built once per word, and run
as tasks of their own so that they never hold up another request's batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi import FastAPI
from serve_helpers import CHAT, assert_alive, assert_error, wait_until

from introscope.core.models import LoadedModel
from introscope.serve import ServeLimits, create_app

Start = Callable[[FastAPI], str]


def injected(word: str) -> dict[str, Any]:
    return {**CHAT, "introscope": {"concept": word, "layer": 0.5, "strength": 4}}


def test_new_concepts_are_rate_limited(tiny_lm: LoadedModel, start: Start) -> None:
    app = create_app(tiny_lm, limits=ServeLimits(concept_builds_per_minute=1))
    with httpx.Client(base_url=start(app), timeout=120) as c:
        assert c.post("/v1/chat/completions", json=injected("Dust")).status_code == 200
        r = c.post("/v1/chat/completions", json=injected("Ocean"))
        assert_error(r, 429, "introscope.concept", "1 a minute")
        assert int(r.headers["retry-after"]) > 1
        # A concept already built costs nothing and is not limited (the cache ignores case).
        assert c.post("/v1/chat/completions", json=injected("dust")).status_code == 200
        assert app.state.introscope.stats["concept_builds"] == 1
        assert_alive(c)


def test_one_build_serves_every_request_for_a_word(tiny_lm: LoadedModel, start: Start) -> None:
    app = create_app(tiny_lm)
    worker = app.state.introscope
    with httpx.Client(base_url=start(app), timeout=120) as c, ThreadPoolExecutor(3) as pool:
        with worker.lock:
            futures = [pool.submit(c.post, "/v1/chat/completions", json=injected("Dust"))
                       for _ in range(3)]  # fmt: skip
            wait_until(lambda: worker.pending_builds() == 1)
            time.sleep(0.2)  # the other two requests join the same build
        responses = [f.result() for f in futures]
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert len({r.json()["choices"][0]["message"]["content"] for r in responses}) == 1
        assert worker.stats["concept_builds"] == 1


def test_the_build_backlog_is_bounded(tiny_lm: LoadedModel, start: Start) -> None:
    app = create_app(tiny_lm, limits=ServeLimits(max_pending_concepts=1))
    worker = app.state.introscope
    with httpx.Client(base_url=start(app), timeout=120) as c, ThreadPoolExecutor(1) as pool:
        with worker.lock:
            first = pool.submit(c.post, "/v1/chat/completions", json=injected("Dust"))
            wait_until(lambda: worker.pending_builds() == 1)
            r = c.post("/v1/chat/completions", json=injected("Ocean"))
            assert_error(r, 429, "introscope.concept", "waiting to be built")
        assert first.result().status_code == 200
        assert_alive(c)


def test_a_build_does_not_hold_up_other_requests(tiny_lm: LoadedModel, start: Start) -> None:
    app = create_app(tiny_lm)
    worker = app.state.introscope
    finished: dict[str, float] = {}

    def timed(name: str, body: dict[str, Any]) -> int:
        status = c.post("/v1/chat/completions", json=body).status_code
        finished[name] = time.monotonic()
        return status

    with httpx.Client(base_url=start(app), timeout=120) as c, ThreadPoolExecutor(2) as pool:
        with worker.lock:  # a build is waiting when a plain request arrives
            concept = pool.submit(timed, "concept", injected("Dust"))
            wait_until(lambda: worker.pending_builds() == 1)
            plain = pool.submit(timed, "plain", CHAT)
            wait_until(lambda: worker.queued() == 1)
        assert concept.result() == plain.result() == 200
    assert finished["plain"] < finished["concept"]
