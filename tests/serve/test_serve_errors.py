"""Bad input never gets a 500 and no error names a server path: hostile vector_file names,
broken vector files, malformed JSON, wrong types, hostile concept words."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from fastapi import FastAPI
from safetensors.torch import save_file
from serve_helpers import CHAT, assert_alive, assert_error, running

from introscope.core.models import LoadedModel
from introscope.serve import create_app

DUST = {"concept": "Dust", "layer": 0.5, "strength": 4}


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("vectors")
    (d / "sub").mkdir()
    save_file({"vec.0": torch.ones(32)}, str(d / "bare.safetensors"))  # no metadata at all
    save_file(  # the format tag but nothing else
        {"vec.0": torch.ones(32)},
        str(d / "partial.safetensors"),
        metadata={"format": "introscope-vectors/1", "names": '["Dust"]'},
    )
    (d / "garbage.safetensors").write_bytes(b"\x00\xff not a safetensors file")
    return d


@pytest.fixture(scope="module")
def files_client(tiny_lm: LoadedModel, vector_dir: Path) -> Iterator[httpx.Client]:
    app: FastAPI = create_app(tiny_lm, vector_dir=vector_dir)
    with running(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def with_file(name: str) -> dict[str, Any]:
    return {**CHAT, "introscope": {**DUST, "vector": "Dust", "vector_file": name}}


FILE_ATTACKS = [
    ("nul", "a\x00b.safetensors", "character"),
    ("long", "x" * 300 + ".safetensors", "1 to 255 characters"),
    ("absolute", "/etc/passwd", "vector directory"),
    ("dotdot", "../../etc/passwd", "vector directory"),
    ("backslash", "..\\x.safetensors", "character"),
    ("missing", "no-such.safetensors", "does not exist"),
    ("directory", "sub", "not a file"),
    ("empty", "", "1 to 255"),
    ("no-metadata", "bare.safetensors", "not an introscope vector file"),
    ("partial-metadata", "partial.safetensors", "lacks the metadata"),
    ("garbage", "garbage.safetensors", "Could not read"),
]


@pytest.mark.parametrize(
    ("name", "needle"), [a[1:] for a in FILE_ATTACKS], ids=[a[0] for a in FILE_ATTACKS]
)
def test_hostile_vector_files_are_400_without_server_paths(
    files_client: httpx.Client, vector_dir: Path, name: str, needle: str
) -> None:
    r = files_client.post("/v1/chat/completions", json=with_file(name))
    assert_error(r, 400, "introscope.vector_file", needle)
    for path in (vector_dir, vector_dir.resolve(), Path.cwd(), Path.home()):
        assert str(path) not in r.text
    assert "/tmp" not in r.text and "/home" not in r.text
    assert_alive(files_client)


JSON_ATTACKS: list[tuple[str, bytes, str | None, str]] = [
    ("malformed", b"{oops", None, "not valid JSON"),
    ("truncated", json.dumps(CHAT).encode()[:-5], None, "not valid JSON"),
    ("array", b"[1, 2]", None, "JSON object"),
    ("string", b'"hello"', None, "JSON object"),
    ("null", b"null", None, "JSON object"),
    ("empty", b"", None, "JSON object"),
    ("not-utf8", b'{"messages": "\xff\xfe"}', None, "could not be parsed as JSON"),
    ("deep", b"[" * 100_000 + b"]" * 100_000, None, "could not be parsed as JSON"),
]


@pytest.mark.parametrize(
    ("body", "param", "needle"), [a[1:] for a in JSON_ATTACKS], ids=[a[0] for a in JSON_ATTACKS]
)
def test_malformed_bodies_are_400(
    client: httpx.Client, body: bytes, param: str | None, needle: str
) -> None:
    r = client.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert_error(r, 400, param, needle)
    assert_alive(client)


def test_a_body_that_is_not_declared_json_is_not_run(
    client: httpx.Client, tiny_app: FastAPI
) -> None:
    """A web page can POST text/plain cross-site without a preflight: it must not generate."""
    before = tiny_app.state.introscope.stats["submitted"]
    r = client.post(
        "/v1/chat/completions", content=json.dumps(CHAT), headers={"content-type": "text/plain"}
    )
    assert_error(r, 400, None, "JSON object")
    assert tiny_app.state.introscope.stats["submitted"] == before


TYPE_ATTACKS = [
    ({"max_tokens": "5"}, "max_tokens"),
    ({"max_tokens": 5.5}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"temperature": "hot"}, "temperature"),
    ({"messages": "hello"}, "messages"),
    ({"messages": [{"content": "no role"}]}, "messages.0.role"),
    ({"messages": [{"role": "user", "content": 7}]}, "messages.0.content"),
    ({"stream": "yes"}, "stream"),
    ({"stop": 5}, "stop"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stop": [""]}, "stop"),
    ({"seed": 1.5}, "seed"),
    ({"introscope": "Dust"}, "introscope"),
    ({"introscope": {**DUST, "layer": [1]}}, "introscope.layer"),
    ({"introscope": {**DUST, "strength": "4"}}, "introscope.strength"),
    ({"introscope": {**DUST, "concept": 3}}, "introscope.concept"),
    ({"introscope": {**DUST, "layer": "1" * 17}}, "introscope.layer"),
    ({"introscope": {**DUST, "window": "from:" + "x" * 1000}}, "introscope.window"),
    ({"introscope": {**DUST, "concept": "x" * 201}}, "introscope.concept"),
    ({"top_logprobs": 3}, "top_logprobs"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "system", "content": "x"}]}, "messages"),
]


@pytest.mark.parametrize(
    ("change", "param"), TYPE_ATTACKS, ids=[str(a[0])[:40] for a in TYPE_ATTACKS]
)
def test_wrong_types_and_shapes_are_400_naming_the_field(
    client: httpx.Client, change: dict[str, Any], param: str
) -> None:
    r = client.post("/v1/chat/completions", json={**CHAT, **change})
    assert_error(r, 400, param)
    assert_alive(client)


@pytest.mark.parametrize(
    ("word", "needle"),
    [("x" * 41, "1 to 40 characters"), ("Du\x00st", "printable"), ("  ", "printable")],
)
def test_hostile_concept_words_are_400(client: httpx.Client, word: str, needle: str) -> None:
    r = client.post("/v1/chat/completions", json={**CHAT, "introscope": {**DUST, "concept": word}})
    assert_error(r, 400, "introscope.concept", needle)


def test_unknown_paths_and_methods(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing"), 404, None, "Not Found")
    assert_error(client.get("/v1/chat/completions"), 405, None, "Method Not Allowed")
    assert_error(client.post("/v1/models", json={}), 405, None)
    assert_alive(client)


def test_no_vector_dir_means_no_files(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json=with_file("dust.safetensors"))
    assert_error(r, 400, "introscope.vector_file", "--vector-dir")
    r = client.post(
        "/v1/chat/completions",
        json={**CHAT, "introscope": {**DUST, "concept": None, "vector": "Dust"}},
    )
    assert_error(r, 400, "introscope.vector", "vector_file")


def test_vector_dir_must_exist(tiny_lm: LoadedModel, tmp_path: Path) -> None:
    from introscope.errors import IntroscopeError

    with pytest.raises(IntroscopeError, match="not a directory"):
        create_app(tiny_lm, vector_dir=tmp_path / "missing")
    assert os.path.isdir(tmp_path)
