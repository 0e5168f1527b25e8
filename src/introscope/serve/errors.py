"""HTTP errors in the OpenAI shape, and the scrubbing that keeps server paths out of them.

Every error body is ``{"error": {"message", "type", "param", "code"}}``; the message is one
sentence and ``param`` names the request field at fault (``"introscope.strength"``) when
there is one.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from starlette.responses import JSONResponse

#: The OpenAI error ``type`` for each status this server answers with.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    421: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
    504: "timeout_error",
}


class ApiError(Exception):
    """An answer to a request that went wrong: status, one-sentence message, field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message if message.endswith((".", "?", "!")) else f"{message}."
        self.param = param
        self.code = code
        self.headers = headers


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param)


class PathScrubber:
    """Replaces the server's own directories in a message with placeholders.

    Messages are written not to name server paths; this is the second line of defence for
    text that comes from a library (a file reader, the tokenizer) and may quote one.
    """

    def __init__(self, named: Iterable[tuple[Path, str]] = ()) -> None:
        roots: list[tuple[str, str]] = []
        for path, label in [
            *named,
            (Path.cwd(), "<cwd>"),
            (Path(tempfile.gettempdir()), "<tmp>"),
            (Path(sys.prefix), "<python>"),
            (Path.home(), "<home>"),
        ]:
            for variant in {str(path), str(path.expanduser().resolve())}:
                if len(variant) > 1:  # never replace a bare "/"
                    roots.append((variant, label))
        # Longest first, so a directory inside another is named by its own label.
        self.roots = sorted(roots, key=lambda r: -len(r[0]))

    def __call__(self, message: str) -> str:
        for root, label in self.roots:
            message = message.replace(root, label)
        return message


def error_response(error: ApiError, scrub: PathScrubber | None = None) -> JSONResponse:
    message = scrub(error.message) if scrub is not None else error.message
    body = {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(error.status, "invalid_request_error"),
            "param": error.param,
            "code": error.code,
        }
    }
    headers = dict(error.headers or {})
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=error.status, headers=headers or None)
