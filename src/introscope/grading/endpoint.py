"""What a judge endpoint may be: which environment variable may hold its key, and which URLs
it may be reached at. Checked when a spec is read and again when a judge is built.

A spec file is easy to share and easy to not read closely, and the judge sends its API key to
the spec's ``base_url``. So the key must come from a variable that is named like an API key
(not, say, ``AWS_SECRET_ACCESS_KEY``), and plain ``http://`` is allowed only to this machine
(the key and the transcripts would otherwise cross the network in clear) unless the user
says ``--insecure-judge``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from introscope.errors import JudgeError

#: Names an API-key variable may have.
API_KEY_ENV_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(_API_KEY|_TOKEN)")

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def key_env_problem(name: str) -> str | None:
    """Why ``name`` may not hold a judge's API key (None when it may)."""
    if API_KEY_ENV_PATTERN.fullmatch(name):
        return None
    return (
        f"{name!r} is not an API-key variable name; name one that ends in _API_KEY or _TOKEN "
        '(or "" for an endpoint that needs no key)'
    )


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(base_url: str, *, insecure: bool = False) -> None:
    """Raise :class:`JudgeError` unless ``base_url`` is https, or http to this machine (or
    any http when ``insecure``)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise JudgeError(f"The judge base_url {base_url!r} is not an http(s) URL with a host.")
    if parts.scheme == "http" and not insecure and not is_loopback(host):
        raise JudgeError(
            f"The judge base_url {base_url!r} is plain http to another machine, so the API key "
            "and the transcripts would cross the network unencrypted; use https, or pass "
            "--insecure-judge if the network is trusted."
        )


def check_key_env(name: str | None) -> None:
    """Raise :class:`JudgeError` if ``name`` may not hold a judge's API key."""
    problem = key_env_problem(name) if name else None
    if problem is not None:
        raise JudgeError(f"The judge's api_key_env: {problem}.")
