"""The OpenAI-compatible server, run for real with uvicorn on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, load_model
from introscope.core.steering import Window
from introscope.core.vectors import VectorSet, concept_vectors, save_vectors
from introscope.serve import create_app

pytestmark = pytest.mark.slow

SYSTEM = "You are a helpful assistant."
QUESTION = "Write one sentence about the sea."
CHAT = {
    "model": "anything",
    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    "max_tokens": 12,
}
DUST = {"concept": "Dust", "layer": 0.5, "strength": 4}


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("The test server did not start.")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def lm() -> LoadedModel:
    return load_model()


@pytest.fixture(scope="module")
def engine(lm: LoadedModel) -> Engine:
    return Engine(lm)


@pytest.fixture(scope="module")
def dust(engine: Engine) -> VectorSet:
    return concept_vectors(engine, ["Dust"])


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vectors")


@pytest.fixture(scope="module")
def app(lm: LoadedModel, vector_dir: Path) -> FastAPI:
    return create_app(lm, model_name="smol-test", vector_dir=vector_dir)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[httpx.Client]:
    with running(app) as url, httpx.Client(base_url=url, timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(lm: LoadedModel, dust: VectorSet) -> Iterator[httpx.Client]:
    """A server with a loaded vector set that requires an API key."""
    with (
        running(create_app(lm, vectors=dust, api_key="sekret-key")) as url,
        httpx.Client(base_url=url, timeout=300) as c,
    ):
        yield c


def chat_prompt(lm: LoadedModel) -> str:
    return lm.chat_prompt([("user", QUESTION)], system=SYSTEM)


def post(c: httpx.Client, path: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return c.post(path, json=body, **kw)


def test_list_models(client: httpx.Client) -> None:
    r = client.get("/v1/models")
    assert r.status_code == 200
    assert r.json()["object"] == "list"
    assert [m["id"] for m in r.json()["data"]] == ["smol-test"]


def test_chat_greedy_matches_engine(client: httpx.Client, lm: LoadedModel, engine: Engine) -> None:
    r = post(client, "/v1/chat/completions", CHAT)
    assert r.status_code == 200, r.text
    out = r.json()
    expected = engine.generate([chat_prompt(lm)], max_new_tokens=12)[0]
    choice = out["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": expected.text}
    assert choice["finish_reason"] == ("stop" if expected.finished else "length")
    assert out["object"] == "chat.completion"
    assert out["model"] == "smol-test"
    assert out["introscope"] is None
    assert out["usage"] == {
        "prompt_tokens": expected.n_prompt_tokens,
        "completion_tokens": len(expected.token_ids),
        "total_tokens": expected.n_prompt_tokens + len(expected.token_ids),
    }


def test_injected_chat_matches_engine(
    client: httpx.Client, lm: LoadedModel, engine: Engine, dust: VectorSet
) -> None:
    plain = post(client, "/v1/chat/completions", CHAT).json()
    r = post(client, "/v1/chat/completions", {**CHAT, "introscope": DUST})
    assert r.status_code == 200, r.text
    out = r.json()
    inj = dust.injection("Dust", 0.5, 4.0, Window.parse("all"))
    expected = engine.generate([chat_prompt(lm)], [inj], max_new_tokens=12)[0]
    text = out["choices"][0]["message"]["content"]
    assert text == expected.text
    assert text != plain["choices"][0]["message"]["content"]
    echo, want = out["introscope"], inj.describe()
    assert echo["vector_norm"] == pytest.approx(want.pop("vector_norm"), rel=1e-5)
    assert {k: echo[k] for k in want} == want


def test_vector_file_and_window(
    client: httpx.Client, lm: LoadedModel, engine: Engine, dust: VectorSet, vector_dir: Path
) -> None:
    save_vectors(dust, vector_dir / "dust.safetensors")
    spec = {"vector_file": "dust.safetensors", "vector": "Dust", "layer": 15, "strength": 8}
    r = post(
        client, "/v1/chat/completions", {**CHAT, "introscope": {**spec, "window": "generated"}}
    )
    assert r.status_code == 200, r.text
    inj = dust.injection("Dust", 15, 8.0, Window.generated())
    expected = engine.generate([chat_prompt(lm)], [inj], max_new_tokens=12)[0]
    assert r.json()["choices"][0]["message"]["content"] == expected.text
    assert r.json()["introscope"]["window"] == "generated"


def test_completions_and_stop(client: httpx.Client, engine: Engine) -> None:
    prompt = "The capital of France is"
    expected = engine.generate([prompt], max_new_tokens=10)[0]
    r = post(client, "/v1/completions", {"prompt": prompt, "max_tokens": 10})
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "text_completion"
    assert r.json()["choices"][0]["text"] == expected.text
    stop = expected.text.strip().split()[1]  # a word from the middle of the output
    r = post(client, "/v1/completions", {"prompt": prompt, "max_tokens": 10, "stop": [stop]})
    choice = r.json()["choices"][0]
    assert choice["text"] == expected.text[: expected.text.index(stop)]
    assert choice["finish_reason"] == "stop"


def test_sampling_is_seeded(client: httpx.Client, lm: LoadedModel, engine: Engine) -> None:
    body = {**CHAT, "temperature": 1.0, "top_p": 0.9}
    texts = [
        post(client, "/v1/chat/completions", {**body, "seed": 7}).json()["choices"][0]["message"]
        for _ in range(2)
    ]
    assert texts[0] == texts[1]
    kw: dict[str, Any] = {"max_new_tokens": 12, "temperature": 1.0, "top_p": 0.9}
    assert texts[0]["content"] == engine.generate([chat_prompt(lm)], seeds=[7], **kw)[0].text
    default = post(client, "/v1/chat/completions", body).json()["choices"][0]["message"]
    assert default["content"] == engine.generate([chat_prompt(lm)], seeds=[0], **kw)[0].text


def test_concurrent_requests_are_batched(
    client: httpx.Client, app: FastAPI, lm: LoadedModel, engine: Engine
) -> None:
    worker = app.state.introscope
    budgets = [4, 8, 12]
    before = worker.stats["submitted"]
    with ThreadPoolExecutor(len(budgets)) as pool:
        with worker.lock:  # hold the model so that the requests queue up together
            futures = [
                pool.submit(post, client, "/v1/chat/completions", {**CHAT, "max_tokens": n})
                for n in budgets
            ]
            deadline = time.monotonic() + 30
            while worker.stats["submitted"] < before + len(budgets):
                assert time.monotonic() < deadline
                time.sleep(0.01)
        responses = [f.result() for f in futures]
    assert worker.stats["max_batch_seen"] >= 2
    for n, r in zip(budgets, responses, strict=True):
        expected = engine.generate([chat_prompt(lm)], max_new_tokens=n)[0]
        choice = r.json()["choices"][0]
        assert choice["message"]["content"] == expected.text
        assert choice["finish_reason"] == ("stop" if expected.finished else "length")


BAD = [
    ({**CHAT, "introscope": {**DUST, "window": "sometimes"}}, "Window"),
    ({**CHAT, "introscope": {**DUST, "layer": 99}}, "out of range"),
    ({**CHAT, "introscope": {**DUST, "layer": 1.5}}, "Depth fraction"),
    ({**CHAT, "introscope": {**DUST, "window": "from:'not in the prompt'"}}, "does not occur"),
    ({**CHAT, "introscope": {**DUST, "mode": "multiply"}}, "mode"),
    ({**CHAT, "introscope": {"layer": 0.5, "strength": 4}}, "concept"),
    ({**CHAT, "introscope": {**DUST, "colour": "red"}}, "introscope.colour"),
    ({**CHAT, "introscope": {**DUST, "vector_file": "no-such.safetensors"}}, "does not exist"),
    ({**CHAT, "introscope": {**DUST, "vector_file": "/etc/passwd"}}, "vector directory"),
    ({**CHAT, "introscope": {**DUST, "vector_file": "../../x.safetensors"}}, "vector directory"),
    ({**CHAT, "stream": True}, "Streaming is not supported"),
    ({**CHAT, "n": 3}, "n=1"),
    ({**CHAT, "top_p": 0}, "top_p"),
    ({**CHAT, "max_tokens": 0}, "max_tokens"),
    ({**CHAT, "messages": [{"role": "tool", "content": "x"}]}, "role"),
    ({"messages": "hello"}, "messages"),
]


@pytest.mark.parametrize(("body", "needle"), BAD, ids=[b[1] for b in BAD])
def test_bad_requests_are_400(client: httpx.Client, body: dict[str, Any], needle: str) -> None:
    r = post(client, "/v1/chat/completions", body)
    assert_one_sentence_400(r, needle)


def test_nan_and_bad_json_are_400(client: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    strength = json.dumps({**CHAT, "introscope": DUST}).replace('"strength": 4', '"strength": NaN')
    assert "NaN" in strength
    r = client.post("/v1/chat/completions", content=strength, headers=headers)
    assert_one_sentence_400(r, "not a finite number")
    temp = json.dumps(CHAT)[:-1] + ', "temperature": NaN}'
    r = client.post("/v1/chat/completions", content=temp, headers=headers)
    assert_one_sentence_400(r, "temperature")
    r = client.post("/v1/chat/completions", content="{oops", headers=headers)
    assert_one_sentence_400(r, "not valid JSON")


def assert_one_sentence_400(r: httpx.Response, needle: str) -> None:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    msg = err["message"]
    assert needle in msg
    assert msg.endswith(".") and "\n" not in msg and "Traceback" not in msg


def test_api_key_and_loaded_vectors(keyed: httpx.Client, client: httpx.Client) -> None:
    assert keyed.get("/v1/models").status_code == 401
    bad = keyed.get("/v1/models", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    assert "sekret" not in bad.text and "wrong" not in bad.text
    auth = {"Authorization": "Bearer sekret-key"}
    assert keyed.get("/v1/models", headers=auth).status_code == 200
    # The open server ignores whatever key a client sends.
    assert client.get("/v1/models", headers={"Authorization": "Bearer x"}).status_code == 200
    # With a loaded set, concepts come from it (same vectors as built on the fly).
    body = {**CHAT, "introscope": DUST}
    r = post(keyed, "/v1/chat/completions", body, headers=auth)
    assert r.status_code == 200, r.text
    on_the_fly = post(client, "/v1/chat/completions", body).json()
    assert r.json()["choices"] == on_the_fly["choices"]
    r = post(
        keyed,
        "/v1/chat/completions",
        {**CHAT, "introscope": {**DUST, "concept": "Zebra"}},
        headers=auth,
    )
    assert_one_sentence_400(r, "No vector named 'Zebra'")
    # Started without a vector directory, the server reads no files at all.
    r = post(
        keyed,
        "/v1/chat/completions",
        {**CHAT, "introscope": {**DUST, "vector_file": "dust.safetensors"}},
        headers=auth,
    )
    assert_one_sentence_400(r, "--vector-dir")


def test_vector_dir_must_exist(lm: LoadedModel, tmp_path: Path) -> None:
    from introscope.errors import InjectionError

    with pytest.raises(InjectionError, match="not a directory"):
        create_app(lm, vector_dir=tmp_path / "missing")
