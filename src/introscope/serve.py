"""An OpenAI-compatible HTTP server for a loaded model, with an optional injection per request.

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions``.
Requests follow the OpenAI shapes (``max_tokens``, ``temperature``, ``top_p``, ``seed``,
``n=1``, ``stop``); the request's ``model`` field is ignored. An extra body field asks for
an injection::

    "introscope": {"concept": "Dust", "layer": 0.67, "strength": 4,
                   "window": "all", "mode": "add"}

``concept`` (or ``vector``) names a vector in the set the server was started with; without
one, concept vectors are built on the fly (DESIGN §3.1) and cached per concept.
``"vector_file": NAME`` with ``"vector": NAME`` reads a saved vector file instead; the server
only reads files inside the directory it was started with (``vector_dir``, CLI
``--vector-dir``), so a request cannot make it open an arbitrary path. ``layer``
is an index or a depth fraction, ``window`` uses the CLI syntax of
:meth:`~introscope.core.steering.Window.parse` and resolves against the chat-templated prompt.
Responses echo :meth:`~introscope.core.steering.Injection.describe` in an ``introscope`` field.

Reproducibility: ``seed`` defaults to 0, so a sampled request (``temperature > 0``) gives
the same text every time; greedy decoding (``temperature`` 0, the default) ignores it.
A trailing assistant message is continued (prefill). ``stop`` strings truncate the text
after generation; ``usage.completion_tokens`` counts the tokens actually generated.

Concurrency: one worker thread owns the model and an :class:`~introscope.core.engine.Engine`;
requests that are queued together with equal ``temperature``/``top_p`` run as one batch
(at most ``max_batch`` rows). Every user error is an HTTP 400 whose
``{"error": {"message", "type"}}`` message is one sentence. The server accepts and ignores
any ``Authorization`` header unless it was given an ``api_key``, in which case a matching
bearer token is required (401 otherwise). Keys are never logged or echoed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from introscope.core.engine import Engine, Generation
from introscope.core.models import LoadedModel
from introscope.core.steering import Injection, Mode, Window
from introscope.core.vectors import VectorSet, concept_vectors, load_vectors
from introscope.errors import InjectionError, IntroscopeError

log = logging.getLogger("introscope.serve")

_CACHE_SIZE = 64  # on-the-fly concept vectors kept (LRU)
_FILE_CACHE_SIZE = 8  # vector files kept (LRU)
_TYPE_TAGS = {"int", "float", "str", "bool", "function-after", "function-before"}


# ----------------------------------------------------------------------------- request models
class InjectionSpec(BaseModel):
    """The ``introscope`` body field."""

    model_config = ConfigDict(extra="forbid")

    concept: str | None = None
    vector: str | None = None
    vector_file: str | None = None
    layer: StrictInt | StrictFloat | StrictStr
    strength: StrictFloat
    window: str = "all"
    mode: str = "add"


class _Common(BaseModel):
    model_config = ConfigDict(extra="allow")  # unknown OpenAI fields are ignored

    model: str | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    stop: str | list[str] | None = None
    stream: bool = False
    introscope: InjectionSpec | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(_Common):
    messages: list[ChatMessage]


class CompletionRequest(_Common):
    prompt: str | list[str]


# ----------------------------------------------------------------------------- worker
@dataclass
class _Job:
    prompt: str
    spec: InjectionSpec | None
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    future: Future[tuple[Generation, Injection | None]] = field(default_factory=Future)

    @property
    def key(self) -> tuple[float, float]:
        return (self.temperature, self.top_p)


class _Worker:
    """Owns the engine; runs queued jobs in batches on one thread."""

    def __init__(
        self,
        lm: LoadedModel,
        vectors: VectorSet | None,
        max_batch: int,
        vector_dir: Path | None = None,
    ) -> None:
        self.lm = lm
        self.engine = Engine(lm)
        self.vectors = vectors
        self.vector_dir = vector_dir.expanduser().resolve() if vector_dir is not None else None
        self.max_batch = max(1, max_batch)
        self.lock = threading.Lock()  # held while the model runs
        self.stats = {"submitted": 0, "requests": 0, "batches": 0, "max_batch_seen": 0}
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._concepts: OrderedDict[str, VectorSet] = OrderedDict()
        self._files: OrderedDict[tuple[str, int, int], VectorSet] = OrderedDict()

    def submit(self, job: _Job) -> Future[tuple[Generation, Injection | None]]:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="introscope-serve", daemon=True
                )
                self._thread.start()
        self._queue.put(job)
        self.stats["submitted"] += 1
        return job.future

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        pending: list[_Job] = []
        while True:
            if not pending:
                first = self._queue.get()
                if first is None:
                    return
                pending.append(first)
            while True:  # take whatever else is already waiting
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    for j in pending:
                        j.future.set_exception(RuntimeError("The server is shutting down."))
                    return
                pending.append(nxt)
            key = pending[0].key
            batch = [j for j in pending if j.key == key][: self.max_batch]
            pending = [j for j in pending if j not in batch]
            try:
                self._run(batch)
            except Exception as exc:  # never let the worker die with requests waiting
                for j in batch:
                    if not j.future.done():
                        j.future.set_exception(exc)

    def _run(self, batch: list[_Job]) -> None:
        with self.lock:
            ready: list[tuple[_Job, Injection | None]] = []
            for job in batch:
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    inj = self._injection(job.spec)
                    self.engine.prepare([job.prompt], [inj])  # resolves windows: fail alone
                except Exception as exc:
                    job.future.set_exception(exc)
                    continue
                ready.append((job, inj))
            if not ready:
                return
            first = ready[0][0]
            try:
                gens = self.engine.generate(
                    [j.prompt for j, _ in ready],
                    [inj for _, inj in ready],
                    max_new_tokens=max(j.max_tokens for j, _ in ready),
                    temperature=first.temperature,
                    top_p=first.top_p,
                    seeds=[j.seed for j, _ in ready] if first.temperature > 0 else None,
                )
            except Exception as exc:
                for j, _ in ready:
                    j.future.set_exception(exc)
                return
        self.stats["requests"] += len(ready)
        self.stats["batches"] += 1
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(ready))
        for (j, inj), g in zip(ready, gens, strict=True):
            j.future.set_result((self._clip(g, j.max_tokens), inj))

    def _clip(self, g: Generation, max_tokens: int) -> Generation:
        """A row of a longer batch, cut to its own budget (as if it had run alone)."""
        if len(g.token_ids) < max_tokens:
            return g
        ids = g.token_ids[:max_tokens]
        text = self.lm.tokenizer.decode(list(ids), skip_special_tokens=True)
        return Generation(text, ids, g.n_prompt_tokens, finished=False)

    # ------------------------------------------------------------------ injections
    def _injection(self, spec: InjectionSpec | None) -> Injection | None:
        if spec is None:
            return None
        window = Window.parse(spec.window)
        if spec.concept and spec.vector and spec.concept != spec.vector:
            raise InjectionError("Give either introscope.concept or introscope.vector, not both.")
        name = spec.vector or spec.concept
        if not name:
            raise InjectionError("The introscope field needs a concept or a vector name.")
        if spec.vector_file:
            vs = self._file_set(spec.vector_file)
        elif self.vectors is not None:
            vs = self.vectors
        elif spec.concept:
            vs = self._concept_set(spec.concept)
        else:
            raise InjectionError(
                "The server has no vector set loaded, so introscope.vector needs a vector_file."
            )
        return vs.injection(name, spec.layer, spec.strength, window, mode=cast(Mode, spec.mode))

    def _concept_set(self, concept: str) -> VectorSet:
        key = concept.lower()
        vs = self._concepts.get(key)
        if vs is None:
            log.info("Building the concept vector for %r.", concept)
            vs = concept_vectors(self.engine, [concept])
            self._concepts[key] = vs
            while len(self._concepts) > _CACHE_SIZE:
                self._concepts.popitem(last=False)
        self._concepts.move_to_end(key)
        return vs

    def _file_set(self, name: str) -> VectorSet:
        if self.vector_dir is None:
            raise InjectionError(
                "This server reads no vector files; start it with --vector-dir DIR to allow "
                "vector_file."
            )
        p = (self.vector_dir / name).resolve()
        if Path(name).is_absolute() or not p.is_relative_to(self.vector_dir):
            raise InjectionError(
                "vector_file must name a file inside the server's vector directory."
            )
        try:
            st = p.stat()
            key = (str(p), st.st_mtime_ns, st.st_size)
        except OSError:
            key = (str(p), 0, 0)
        vs = self._files.get(key)
        if vs is None:
            vs = load_vectors(p, self.lm)
            self._files[key] = vs
            while len(self._files) > _FILE_CACHE_SIZE:
                self._files.popitem(last=False)
        self._files.move_to_end(key)
        return vs


# ----------------------------------------------------------------------------- helpers
def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


def _bad(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=message)


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise _bad("Only text content parts are supported in messages.")
        parts.append(part["text"])
    return "".join(parts)


def _apply_stop(text: str, stop: str | list[str] | None) -> tuple[str, bool]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _job(req: _Common, prompt: str) -> _Job:
    if req.stream:
        raise _bad("Streaming is not supported by the introscope server; set stream to false.")
    if req.n != 1:
        raise _bad("Only n=1 is supported; send several requests instead.")
    if not math.isfinite(req.temperature) or req.temperature < 0:
        raise _bad(f"temperature must be a finite number >= 0, not {req.temperature}.")
    if not math.isfinite(req.top_p) or not 0 < req.top_p <= 1:
        raise _bad(f"top_p must be in (0, 1], not {req.top_p}.")
    max_tokens = req.max_tokens if req.max_tokens is not None else req.max_completion_tokens
    max_tokens = 128 if max_tokens is None else max_tokens
    if max_tokens < 1:
        raise _bad(f"max_tokens must be at least 1, not {max_tokens}.")
    seed = 0 if req.seed is None else req.seed
    if not 0 <= seed < 2**63:
        raise _bad(f"seed must be in [0, 2**63), not {seed}.")
    return _Job(prompt, req.introscope, max_tokens, req.temperature, req.top_p, seed)


def _chat_prompt(lm: LoadedModel, messages: list[ChatMessage]) -> str:
    turns = []
    for m in messages:
        role = "system" if m.role == "developer" else m.role
        if role not in ("system", "user", "assistant"):
            raise _bad(f"Message role {m.role!r} is not supported; use system, user or assistant.")
        turns.append((role, _text(m.content)))
    system = None
    if turns and turns[0][0] == "system":
        system = turns.pop(0)[1]
    if not turns:
        raise _bad("messages needs at least one user or assistant message.")
    return lm.chat_prompt(turns, system=system)


def _usage(g: Generation) -> dict[str, int]:
    n = len(g.token_ids)
    return {
        "prompt_tokens": g.n_prompt_tokens,
        "completion_tokens": n,
        "total_tokens": g.n_prompt_tokens + n,
    }


# ----------------------------------------------------------------------------- app
def create_app(
    lm: LoadedModel,
    *,
    vectors: VectorSet | None = None,
    model_name: str | None = None,
    max_batch: int = 8,
    api_key: str | None = None,
    vector_dir: Path | None = None,
) -> FastAPI:
    """Build the FastAPI app serving ``lm`` (see the module docstring for the protocol).

    ``vector_dir``: the only directory ``vector_file`` requests may read from (none: no
    request may read a file).
    """
    if vectors is not None:
        vectors.check_model(lm)
    if vector_dir is not None and not vector_dir.expanduser().is_dir():
        raise InjectionError(f"The vector directory {str(vector_dir)!r} is not a directory.")
    name = model_name or lm.info.spec
    worker = _Worker(lm, vectors, max_batch, vector_dir)
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        worker.close()

    async def check_key(authorization: str | None = Header(default=None)) -> None:
        if api_key is None:
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), api_key.encode()
        ):
            raise HTTPException(status_code=401, detail="A valid bearer API key is required.")

    app = FastAPI(title="introscope", lifespan=lifespan, dependencies=[Depends(check_key)])
    app.state.introscope = worker

    @app.exception_handler(IntroscopeError)
    async def _introscope_error(_r: Request, exc: IntroscopeError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_r: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _error(400, "The request body is not valid JSON.")
        # Drop the "body" root and pydantic's union-branch tags ("int", "list[str]"...).
        loc = [str(x) for x in first.get("loc", ()) if x != "body"]
        where = ".".join(x for x in loc if x not in _TYPE_TAGS and "[" not in x) or "body"
        msg = str(first.get("msg", "invalid value")).rstrip(".")
        return _error(400, f"Invalid request field {where!r}: {msg}.")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        return _error(exc.status_code, detail if detail.endswith(".") else f"{detail}.")

    @app.exception_handler(Exception)
    async def _internal_error(_r: Request, exc: Exception) -> JSONResponse:
        log.exception("Request failed")
        return _error(500, f"The server failed with {type(exc).__name__}.", "server_error")

    async def run(job: _Job) -> tuple[Generation, Injection | None]:
        return await asyncio.wrap_future(worker.submit(job))

    def choice_end(g: Generation, stop: str | list[str] | None) -> tuple[str, str]:
        text, stopped = _apply_stop(g.text, stop)
        return text, "stop" if stopped or g.finished else "length"

    def extras(inj: Injection | None) -> dict[str, Any]:
        return {
            "model": name,
            "created": int(time.time()),
            "system_fingerprint": lm.info.weights_hash or None,
            "introscope": inj.describe() if inj is not None else None,
        }

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        model = {"id": name, "object": "model", "created": created, "owned_by": "introscope"}
        return {"object": "list", "data": [model]}

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatRequest) -> dict[str, Any]:
        g, inj = await run(_job(req, _chat_prompt(lm, req.messages)))
        text, reason = choice_end(g, req.stop)
        message = {"role": "assistant", "content": text}
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            **extras(inj),
            "choices": [
                {"index": 0, "message": message, "finish_reason": reason, "logprobs": None}
            ],
            "usage": _usage(g),
        }

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest) -> dict[str, Any]:
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        if not prompts:
            raise _bad("prompt must be a string or a non-empty list of strings.")
        jobs = [_job(req, p) for p in prompts]
        results = await asyncio.gather(*(run(j) for j in jobs))
        choices, totals = [], {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for i, (g, _inj) in enumerate(results):
            text, reason = choice_end(g, req.stop)
            choices.append({"index": i, "text": text, "finish_reason": reason, "logprobs": None})
            for k, v in _usage(g).items():
                totals[k] += v
        return {
            "id": f"cmpl-{uuid.uuid4().hex[:24]}",
            "object": "text_completion",
            **extras(results[0][1]),
            "choices": choices,
            "usage": totals,
        }

    return app


def serve(
    lm: LoadedModel,
    host: str = "127.0.0.1",
    port: int = 8000,
    vectors: VectorSet | None = None,
    *,
    model_name: str | None = None,
    api_key: str | None = None,
    max_batch: int = 8,
    log_level: str = "info",
    vector_dir: Path | None = None,
) -> None:
    """Run the server with uvicorn until interrupted (loopback only unless ``host`` says)."""
    import uvicorn

    app = create_app(
        lm,
        vectors=vectors,
        model_name=model_name,
        max_batch=max_batch,
        api_key=api_key,
        vector_dir=vector_dir,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        log.warning("Serving on %s without an API key: anyone who can reach it can use it.", host)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
