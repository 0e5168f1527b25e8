"""Helpers shared by the server tests: a real uvicorn server on a free loopback port, and
assertions on the error shape."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

CHAT: dict[str, Any] = {
    "model": "anything",
    "messages": [{"role": "user", "content": "Write one sentence about the sea."}],
    "max_tokens": 6,
}


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
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


def assert_error(r: httpx.Response, status: int, param: str | None, *needles: str) -> None:
    """The documented error shape: status, one sentence, the field at fault."""
    assert r.status_code == status, r.text
    err = r.json()["error"]
    msg = err["message"]
    assert err["param"] == param, err
    for needle in needles:
        assert needle in msg, msg
    assert msg.endswith(".") and "\n" not in msg and "Traceback" not in msg, msg


def assert_alive(c: httpx.Client, **headers: str) -> None:
    """A normal request still succeeds (the server survived whatever came before)."""
    r = c.post("/v1/chat/completions", json={**CHAT, "max_tokens": 2}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["completion_tokens"] >= 1


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def raw_exchange(
    url: str, head: bytes, body: list[bytes] | None = None, timeout: float = 10
) -> bytes:
    """Send raw bytes to the server; return the status line and headers of its answer."""
    host, port = url.removeprefix("http://").split(":")
    data = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(head)
        try:
            for part in body or []:
                s.sendall(part)
        except OSError:  # the server answered and closed while we were still sending
            pass
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])
