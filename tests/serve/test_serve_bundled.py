"""The server on the bundled model gives exactly what the engine gives: plain, injected,
from a vector file with a window, batched, from a loaded vector set, with a prefill."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from serve_helpers import running, wait_until

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel
from introscope.core.steering import Window
from introscope.core.vectors import VectorSet, concept_vectors, save_vectors
from introscope.serve import create_app

pytestmark = pytest.mark.slow

SYSTEM = "You are a helpful assistant."
QUESTION = "Write one sentence about the sea."
CHAT: dict[str, Any] = {
    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    "max_tokens": 12,
}
DUST = {"concept": "Dust", "layer": 0.5, "strength": 4}


@pytest.fixture(scope="module")
def dust(engine: Engine) -> VectorSet:
    return concept_vectors(engine, ["Dust"])


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory: pytest.TempPathFactory, dust: VectorSet) -> Path:
    d = tmp_path_factory.mktemp("vectors")
    save_vectors(dust, d / "dust.safetensors")
    return d


@pytest.fixture(scope="module")
def app(lm: LoadedModel, vector_dir: Path) -> FastAPI:
    return create_app(lm, model_name="smol", vector_dir=vector_dir)


@pytest.fixture(scope="module")
def smol(app: FastAPI) -> Iterator[httpx.Client]:
    with running(app) as url, httpx.Client(base_url=url, timeout=300) as c:
        yield c


def chat_prompt(lm: LoadedModel) -> str:
    return lm.chat_prompt([("user", QUESTION)], system=SYSTEM)


def content(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return str(r.json()["choices"][0]["message"]["content"])


def test_plain_and_injected_chat_match_the_engine(
    smol: httpx.Client, lm: LoadedModel, engine: Engine, dust: VectorSet
) -> None:
    r = smol.post("/v1/chat/completions", json=CHAT)
    expected = engine.generate([chat_prompt(lm)], max_new_tokens=12)[0]
    assert content(r) == expected.text
    assert r.json()["usage"]["completion_tokens"] == len(expected.token_ids)
    assert r.json()["introscope"] is None
    r = smol.post("/v1/chat/completions", json={**CHAT, "introscope": DUST})
    inj = dust.injection("Dust", 0.5, 4.0, Window.parse("all"))
    injected = engine.generate([chat_prompt(lm)], [inj], max_new_tokens=12)[0]
    assert content(r) == injected.text != expected.text
    echo, want = r.json()["introscope"], inj.describe()
    assert echo["vector_norm"] == pytest.approx(want.pop("vector_norm"), rel=1e-5)
    assert {k: echo[k] for k in want} == want


def test_vector_file_with_a_window(
    smol: httpx.Client, lm: LoadedModel, engine: Engine, dust: VectorSet
) -> None:
    spec = {"vector_file": "dust.safetensors", "vector": "Dust", "layer": 15, "strength": 8}
    body = {**CHAT, "introscope": {**spec, "window": "generated"}}
    r = smol.post("/v1/chat/completions", json=body)
    inj = dust.injection("Dust", 15, 8.0, Window.generated())
    assert content(r) == engine.generate([chat_prompt(lm)], [inj], max_new_tokens=12)[0].text
    assert r.json()["introscope"]["window"] == "generated"


def test_batched_requests_match_the_engine_alone(
    smol: httpx.Client, app: FastAPI, lm: LoadedModel, engine: Engine
) -> None:
    worker = app.state.introscope
    budgets = [4, 8, 12]
    with ThreadPoolExecutor(len(budgets)) as pool:
        with worker.lock:
            futures = [
                pool.submit(smol.post, "/v1/chat/completions", json={**CHAT, "max_tokens": n})
                for n in budgets
            ]
            wait_until(lambda: worker.queued() == len(budgets))
        responses = [f.result() for f in futures]
    assert worker.stats["max_batch_seen"] >= 3
    for n, r in zip(budgets, responses, strict=True):
        expected = engine.generate([chat_prompt(lm)], max_new_tokens=n)[0]
        assert content(r) == expected.text
        assert r.json()["choices"][0]["finish_reason"] == (
            "stop" if expected.finished else "length"
        )


def test_a_loaded_set_gives_the_vectors_built_on_the_fly(
    smol: httpx.Client, lm: LoadedModel, dust: VectorSet
) -> None:
    with running(create_app(lm, vectors=dust)) as url, httpx.Client(base_url=url, timeout=300) as c:
        body = {**CHAT, "introscope": DUST}
        assert content(c.post("/v1/chat/completions", json=body)) == content(
            smol.post("/v1/chat/completions", json=body)
        )
        r = c.post(
            "/v1/chat/completions", json={**CHAT, "introscope": {**DUST, "concept": "Zebra"}}
        )
        assert r.status_code == 400 and "No vector named 'Zebra'" in r.json()["error"]["message"]


def test_a_trailing_assistant_message_is_continued(
    smol: httpx.Client, lm: LoadedModel, engine: Engine
) -> None:
    prefill = "The sea is"
    body = {**CHAT, "messages": [*CHAT["messages"], {"role": "assistant", "content": prefill}]}
    prompt = lm.chat_prompt([("user", QUESTION), ("assistant", prefill)], system=SYSTEM)
    assert prompt.endswith(prefill)
    assert content(smol.post("/v1/chat/completions", json=body)) == (
        engine.generate([prompt], max_new_tokens=12)[0].text
    )
