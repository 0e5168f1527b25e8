"""Isolation: a request whose injection drives the model to NaN fails alone, with a 422
naming the strength; its batchmates complete exactly as they would have alone. Ranges that
can be checked up front are refused before anything runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from serve_helpers import CHAT, assert_alive, assert_error, wait_until

from introscope.core.models import LoadedModel
from introscope.serve import ServeLimits, create_app

Start = Callable[[FastAPI], str]
DUST = {"concept": "Dust", "layer": 0.5, "strength": 4}


@pytest.mark.parametrize(
    ("change", "param", "needle"),
    [
        ({"introscope": {**DUST, "strength": 101}}, "introscope.strength", "between -100 and 100"),
        ({"introscope": {**DUST, "strength": -1e9}}, "introscope.strength", "not -1e+09"),
        ({"temperature": 2.5}, "temperature", "between 0 and 2"),
        ({"temperature": -0.1}, "temperature", "between 0 and 2"),
        ({"top_p": 0}, "top_p", "(0, 1]"),
        ({"top_p": 1.5}, "top_p", "(0, 1]"),
        ({"seed": -1}, "seed", "[0, 2**63)"),
        ({"seed": 2**70}, "seed", "[0, 2**63)"),
        ({"introscope": {**DUST, "layer": 99}}, "introscope.layer", "out of range"),
        ({"introscope": {**DUST, "layer": 1.5}}, "introscope.layer", "Depth fraction"),
        ({"introscope": {**DUST, "window": "sometimes"}}, "introscope.window", "Window"),
        (
            {"introscope": {**DUST, "window": "from:'not in the prompt'"}},
            "introscope.window",
            "does not occur",
        ),
        ({"introscope": {**DUST, "mode": "multiply"}}, "introscope.mode", "add"),
        ({"introscope": {"layer": 0.5, "strength": 4}}, "introscope.concept", "concept"),
        ({"introscope": {**DUST, "vector": "Ocean"}}, "introscope.vector", "not both"),
    ],
)
def test_ranges_are_checked_up_front(
    client: httpx.Client, tiny_app: FastAPI, change: dict[str, Any], param: str, needle: str
) -> None:
    before = tiny_app.state.introscope.stats["submitted"]
    r = client.post("/v1/chat/completions", json={**CHAT, **change})
    assert_error(r, 400, param, needle)
    assert tiny_app.state.introscope.stats["submitted"] == before  # nothing was queued
    assert_alive(client)


@pytest.mark.parametrize("field", ["temperature", "top_p", "strength"])
def test_non_finite_numbers_are_refused(client: httpx.Client, field: str) -> None:
    body = {**CHAT, "introscope": {**DUST}}
    text = json.dumps(body)
    if field == "strength":
        text = text.replace('"strength": 4', '"strength": NaN')
    else:
        text = text[:-1] + f', "{field}": Infinity}}'
    r = client.post(
        "/v1/chat/completions", content=text, headers={"content-type": "application/json"}
    )
    param = "introscope.strength" if field == "strength" else field
    assert_error(r, 400, param, "finite number")
    assert_alive(client)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_a_row_that_goes_non_finite_fails_alone(
    tiny_lm: LoadedModel, start: Start, temperature: float
) -> None:
    # Raise the strength bound so that an absurd strength reaches the model.
    app = create_app(tiny_lm, limits=ServeLimits(max_strength=1e308))
    worker = app.state.introscope
    base = {**CHAT, "max_tokens": 12, "temperature": temperature, "seed": 5}
    plain = base
    injected = {**base, "introscope": DUST, "seed": 6}
    poisoned = {**base, "introscope": {**DUST, "strength": 1e300}, "seed": 7}
    with httpx.Client(base_url=start(app), timeout=60) as c, ThreadPoolExecutor(3) as pool:
        alone = [c.post("/v1/chat/completions", json=b).json() for b in (plain, injected)]
        assert alone[0]["choices"] != alone[1]["choices"]
        before = dict(worker.stats)
        with worker.lock:  # the three requests queue up and run as one batch
            futures = [
                pool.submit(c.post, "/v1/chat/completions", json=b)
                for b in (plain, poisoned, injected)
            ]
            wait_until(lambda: worker.queued() == 3)
        a, p, b = (f.result() for f in futures)
        assert worker.stats["max_batch_seen"] == 3
        assert_error(p, 422, "introscope.strength", "NaN or infinite", "lower introscope.strength")
        for r, ref in zip((a, b), alone, strict=True):
            assert r.status_code == 200, r.text
            assert r.json()["choices"] == ref["choices"]
            assert r.json()["usage"] == ref["usage"]
        assert worker.stats["non_finite"] == before["non_finite"] + 1
        # Greedy rows are ended by the step controller; a sampled batch breaks in the
        # sampler at its first step and its jobs are rerun alone.
        assert worker.stats["isolated"] == before["isolated"] + (1 if temperature else 0)
        assert_alive(c)


def test_a_stream_that_goes_non_finite_ends_with_an_error_event(
    tiny_lm: LoadedModel, start: Start
) -> None:
    app = create_app(tiny_lm, limits=ServeLimits(max_strength=1e308))
    body = {**CHAT, "stream": True, "introscope": {**DUST, "strength": 1e300}}
    with httpx.Client(base_url=start(app), timeout=60) as c:
        with c.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            events = [line.removeprefix("data: ") for line in r.iter_lines() if line]
        error = json.loads(events[-1])["error"]
        assert error["status"] == 422 and error["param"] == "introscope.strength"
        assert "[DONE]" not in events
        assert_alive(c)
