"""Authentication and exposure: the API key (from the environment, checked before the body
is read, guarding the docs too), the Host allow-list against DNS rebinding, and the rule
for binding beyond loopback."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import openai
import pytest
from fastapi import FastAPI
from serve_helpers import CHAT, assert_alive, assert_error, raw_exchange, status_of

from introscope.core.models import LoadedModel
from introscope.errors import IntroscopeError
from introscope.serve import check_bind, create_app

Start = Callable[[FastAPI], str]
KEY = "sekret-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_the_key_guards_every_path_but_health(
    tiny_lm: LoadedModel, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=start(create_app(tiny_lm, api_key=KEY)), timeout=60) as c:
        seen = []
        for path in ("/v1/models", "/v1/models/tiny", "/docs", "/openapi.json", "/redoc"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
                r = c.get(path, headers=headers)
                assert_error(r, 401, None, "API key")
                assert r.headers["www-authenticate"] == "Bearer"
                seen.append(r.text)
        r = c.post("/v1/chat/completions", json=CHAT)
        assert_error(r, 401, None, "API key")
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/v1/models", headers=AUTH).status_code == 200
        # With a key the interactive docs are off altogether.
        for path in ("/docs", "/openapi.json", "/redoc"):
            assert c.get(path, headers=AUTH).status_code == 404
        assert_alive(c, **AUTH)
        assert all(KEY not in text for text in seen)
    assert KEY not in caplog.text


def test_the_key_is_checked_before_the_body_is_read(tiny_lm: LoadedModel, start: Start) -> None:
    url = start(create_app(tiny_lm, api_key=KEY))
    # Headers promise a body that never comes: the answer must not wait for it.
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    assert status_of(raw_exchange(url, head, timeout=10)) == 401
    # Even over the size limit, a request without the key learns only that it needs one.
    big = head.replace(b"100000", b"999999999")
    assert status_of(raw_exchange(url, big, timeout=10)) == 401


def test_an_open_server_ignores_authorization(client: httpx.Client) -> None:
    assert client.get("/v1/models", headers={"Authorization": "Bearer x"}).status_code == 200
    assert client.get("/docs").status_code == 200


def test_only_allowed_host_names_are_answered(tiny_lm: LoadedModel, start: Start) -> None:
    url = start(create_app(tiny_lm, allowed_hosts=["Box.Lan"]))
    port = url.rsplit(":", 1)[1]
    with httpx.Client(base_url=url, timeout=60) as c:
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "box"):
            r = c.get("/v1/models", headers={"Host": host})
            assert_error(r, 421, None, "--allow-host")
        # DNS rebinding aims at the model, but /health is refused as well.
        assert c.get("/health", headers={"Host": "evil.example"}).status_code == 421
        for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", "[::1]:80", "box.lan"):
            assert c.get("/v1/models", headers={"Host": host}).status_code == 200, host
        assert_alive(c)
    # HTTP/1.0 without any Host header.
    assert status_of(raw_exchange(url, b"GET /v1/models HTTP/1.0\r\n\r\n")) == 421
    any_host = start(create_app(tiny_lm, allowed_hosts=["*"]))
    with httpx.Client(base_url=any_host, timeout=60) as c:
        assert c.get("/v1/models", headers={"Host": "anything.example"}).status_code == 200


def test_binding_beyond_loopback_needs_a_key_or_insecure() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert check_bind(host, None, insecure=False) is None
    for host in ("0.0.0.0", "::", "192.168.1.5", "box.lan"):
        with pytest.raises(IntroscopeError, match="--insecure"):
            check_bind(host, None, insecure=False)
        warning = check_bind(host, None, insecure=True)
        assert warning is not None and "without an API key" in warning
        assert "TLS" in (check_bind(host, KEY, insecure=False) or "")


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "introscope.cli", "serve", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        timeout=120,
    )


def test_cli_refuses_unsafe_setups_before_loading_the_model() -> None:
    proc = run_serve("--host", "0.0.0.0")
    assert proc.returncode == 2
    assert "--insecure" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_serve("--api-key-env", "INTROSCOPE_TEST_NO_SUCH_VAR")
    assert proc.returncode == 2
    assert "INTROSCOPE_TEST_NO_SUCH_VAR" in proc.stderr and "not set" in proc.stderr
    # There is no way to put the key itself on the command line.
    proc = run_serve("--api-key", KEY)
    assert proc.returncode == 2 and "No such option" in proc.stderr


@pytest.mark.slow
def test_the_cli_server_takes_its_key_from_the_environment() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "introscope.cli", "serve", "--port", str(port),
         "--api-key-env", "INTROSCOPE_TEST_KEY", "--max-tokens", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "INTROSCOPE_TEST_KEY": KEY},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the CLI server did not start"
            time.sleep(0.5)
        with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as oai:
            out = oai.chat.completions.create(model="x", messages=CHAT["messages"], max_tokens=4)
            assert out.usage is not None and out.usage.completion_tokens >= 1
            with pytest.raises(openai.BadRequestError, match="limit of 8"):
                oai.chat.completions.create(model="x", messages=CHAT["messages"], max_tokens=9)
        with (
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0) as oai,
            pytest.raises(openai.AuthenticationError),
        ):
            oai.models.list()
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=60)
    assert "Serving" in output and KEY not in output
