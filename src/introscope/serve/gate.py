"""The checks every request passes before the app sees it, in this order:

1. **Host allow-list** (DNS rebinding): a web page on ``evil.example`` whose name resolves
   to 127.0.0.1 makes the browser send ``Host: evil.example``; only the loopback names, the
   bound address and the ``--allow-host`` names are answered (421 otherwise).
2. **API key**: with a key, every path but ``/health`` needs ``Authorization: Bearer KEY``
   (401), checked in constant time before a byte of the body is read.
3. **Body size**: a ``Content-Length`` over the limit is refused at once and a chunked body
   as soon as it passes the limit (413). The body is read here, then replayed to the app.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from introscope.serve.errors import ApiError, error_response

#: Host names a loopback server always answers to.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Paths answered without the API key (they reveal nothing).
OPEN_PATHS = frozenset({"/health"})


def host_name(value: str) -> str:
    """``"Example.org:8000"`` -> ``"example.org"``; ``"[::1]:8000"`` -> ``"::1"``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Gate:
    """ASGI middleware: host allow-list, API key, body size (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        allowed_hosts: Iterable[str] | None,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.key = api_key.encode() if api_key is not None else None
        hosts = {host_name(h) for h in allowed_hosts} if allowed_hosts is not None else None
        self.any_host = hosts is not None and "*" in hosts
        self.hosts = LOOPBACK_HOSTS | (hosts or set())
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, list[bytes]] = {}
        for k, v in scope.get("headers", []):
            headers.setdefault(k.lower(), []).append(v)
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        body = await self.read_body(receive)
        if isinstance(body, ApiError):
            await error_response(body)(scope, receive, send)
            return
        if body is None:  # the client went away while sending
            return
        await self.app(scope, replay(body, receive), send)

    def refusal(self, scope: Scope, headers: dict[bytes, list[bytes]]) -> ApiError | None:
        hosts = headers.get(b"host", [])
        if not self.any_host and (
            len(hosts) != 1 or host_name(hosts[0].decode("latin-1")) not in self.hosts
        ):
            return ApiError(
                421,
                "This server does not answer to the Host name the request was sent to; "
                "start it with --allow-host NAME to allow that name.",
            )
        if self.key is not None and scope.get("path") not in OPEN_PATHS:
            auth = headers.get(b"authorization", [])
            scheme, _, token = (auth[0] if len(auth) == 1 else b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
                return ApiError(401, "A valid API key is required (Authorization: Bearer KEY).")
        lengths = headers.get(b"content-length", [])
        if lengths:
            try:
                declared = int(lengths[0])
            except ValueError:
                return ApiError(400, "The Content-Length header is not a number.")
            if declared > self.max_body:
                return self.too_large()
        return None

    def too_large(self) -> ApiError:
        return ApiError(413, f"The request body is larger than {self.max_body} bytes.")

    async def read_body(self, receive: Receive) -> bytes | ApiError | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return self.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real messages
    (so that the app still learns when the client disconnects)."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again
