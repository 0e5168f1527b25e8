"""An OpenAI-compatible HTTP server for a loaded model, with an optional injection per request,
safe to share on a machine or a network.

Endpoints: ``GET /health`` (no key needed), ``GET /v1/models``, ``GET /v1/models/{id}``,
``POST /v1/chat/completions``, ``POST /v1/completions``. Requests follow the OpenAI shapes:
``max_tokens`` (chat also ``max_completion_tokens``), ``temperature`` (0 to 2; default 0,
greedy), ``top_p`` (0 to 1], ``seed``, ``n=1``, ``stop`` (up to 4 strings, applied while
generating: a row ends as soon as its text contains one), ``stream`` (server-sent events,
with ``stream_options.include_usage``), ``logprobs``/``top_logprobs`` (chat, up to 20) and
``logprobs`` (completions, up to 5), not while streaming. The model's own log-probabilities
are reported (temperature 1, before top_p). Responses carry ``usage``. The request's
``model`` is ignored (one model is served). A field the server does not implement
(``tools``, ``logit_bias``, ``response_format``, ``functions``, ``presence_penalty`` ...)
is refused with a 400 naming it unless it holds its neutral value (``[]``, ``0``, ``null``).
Sampling without a ``seed`` draws a fresh one, so two unseeded calls differ; a seeded call
repeats (the prompts of a completions list use ``seed``, ``seed + 1``, ...). Streamed text
holds back what could still become a stop string. An extra body field asks for an
injection::

    "introscope": {"concept": "Dust", "layer": 0.67, "strength": 4,
                   "window": "all", "mode": "add"}

``concept`` (or ``vector``) names a vector in the set the server was started with; without
one, concept vectors are built on the fly (docs/protocols.md) and cached; building a new
one is bounded (see below) and runs as a task of its own on the worker, never inside
another request's batch. ``"vector_file": NAME`` with ``"vector": NAME`` reads a saved
vector file, only from inside ``--vector-dir``. ``layer`` is an index or a depth fraction,
``window`` uses the CLI syntax of :meth:`~introscope.core.steering.Window.parse` against the
chat-templated prompt. Responses echo :meth:`~introscope.core.steering.Injection.describe`
in an ``introscope`` field.

Limits (:class:`ServeLimits`; default, CLI flag, answer when exceeded):

- ``max_tokens`` at most 1024 (``--max-tokens``), and prompt tokens + ``max_tokens`` at most
  the model's context: 400 with the numbers. Without ``max_tokens``: 128, or what fits.
- body at most 1 MiB (``--max-body-bytes``): 413, before the body is read.
- at most 16 prompts per ``/v1/completions`` request (``--max-prompts``): 400.
- at most 64 rows waiting for the model (``--max-queue``): 429 with ``Retry-After``.
- 120 s per request, queueing included (``--timeout``): 504; a running row is ended.
- a client that disconnects: its queued rows are dropped, its running rows end at the next
  step; nobody waits for them.
- ``|introscope.strength|`` at most 100 (``--max-strength``): 400. A row whose values still
  become NaN or infinite fails alone with 422 (``param: introscope.strength``); its
  batchmates complete as if they had run alone.
- new concept vectors: words of at most 40 printable characters, 6 builds a minute
  (``--concept-rate``), 4 waiting: 400 / 429.

Security: ``introscope serve --api-key-env NAME`` reads the key from environment variable
NAME (never from the command line, never logged); every path but ``/health`` then needs
``Authorization: Bearer KEY`` (401), checked before the body is read, and ``/docs``,
``/redoc``, ``/openapi.json`` are off. The server answers only to the loopback Host names
and the bound address (421 otherwise: DNS rebinding); ``--allow-host NAME`` adds one
(``*``: any).
Binding to a non-loopback address without a key prints a warning and needs ``--insecure``.

Errors are ``{"error": {"message", "type", "param", "code"}}`` with a one-sentence message
naming the field at fault; bad input never gets a 500, and no message names a server path.
An error after a stream has begun arrives as a last ``data: {"error": {...}}`` event.

Concurrency: one worker thread owns the model (:mod:`introscope.serve.worker`); waiting
requests with equal ``temperature``/``top_p`` run as one batch (``--max-batch``, 8), steered
step by step (:mod:`introscope.serve.steps`).
"""

from __future__ import annotations

from introscope.serve.app import create_app
from introscope.serve.limits import ServeLimits
from introscope.serve.run import api_key_from_env, check_bind, serve

__all__ = ["ServeLimits", "api_key_from_env", "check_bind", "create_app", "serve"]
