"""Running the app with uvicorn, and the bind-address rule."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from introscope.core.models import LoadedModel
from introscope.core.vectors import VectorSet
from introscope.errors import IntroscopeError
from introscope.serve.app import create_app
from introscope.serve.limits import ServeLimits

log = logging.getLogger("introscope.serve")

#: Bind addresses that listen on every interface.
WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None, insecure: bool) -> str | None:
    """Refuse an open non-loopback server unless ``insecure``; returns a warning to print."""
    if is_loopback(host):
        return None
    if api_key is not None:
        return (
            f"Serving on {host}: the API key travels over plain HTTP, so put a TLS proxy in "
            "front of the server on an untrusted network."
        )
    warning = (
        f"Serving on {host} without an API key: anyone who can reach this address can use "
        "the model."
    )
    if not insecure:
        raise IntroscopeError(
            f"{warning[:-1]}; give one with --api-key-env NAME, or pass --insecure to accept that."
        )
    return warning


def api_key_from_env(name: str | None, host: str, insecure: bool) -> str | None:
    """The key in environment variable ``name`` (none without a name), after ``check_bind``."""
    key = None
    if name is not None:
        key = os.environ.get(name, "")
        if not key.strip():
            raise IntroscopeError(
                f"The environment variable {name} (--api-key-env) is not set or empty."
            )
    check_bind(host, key, insecure)
    return key


def serve(
    lm: LoadedModel,
    host: str = "127.0.0.1",
    port: int = 8000,
    vectors: VectorSet | None = None,
    *,
    model_name: str | None = None,
    api_key: str | None = None,
    limits: ServeLimits | None = None,
    allow_hosts: tuple[str, ...] = (),
    insecure: bool = False,
    vector_dir: Path | None = None,
    log_level: str = "info",
) -> None:
    """Run the server with uvicorn until interrupted (the rules: ``check_bind``)."""
    import uvicorn

    warning = check_bind(host, api_key, insecure)
    if warning is not None:
        log.warning(warning)
    hosts = [*allow_hosts, *([] if host in WILDCARDS else [host])]
    limits = limits or ServeLimits()
    app = create_app(
        lm,
        vectors=vectors,
        model_name=model_name,
        api_key=api_key,
        vector_dir=vector_dir,
        limits=limits,
        allowed_hosts=hosts,
    )
    # Connections beyond this get a 503 from uvicorn before the app sees them.
    concurrency = limits.max_queue + 64
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        limit_concurrency=concurrency,
        timeout_keep_alive=5,
        server_header=False,
    )
