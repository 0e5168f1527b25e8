"""The FastAPI app: routes, error handlers, waiting on the worker, streaming."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from introscope.core.models import LoadedModel
from introscope.core.steering import Injection
from introscope.core.vectors import VectorSet
from introscope.errors import IntroscopeError
from introscope.serve import responses as out
from introscope.serve import validate
from introscope.serve.errors import ERROR_TYPES, ApiError, PathScrubber, error_response
from introscope.serve.gate import Gate
from introscope.serve.injections import (
    ConceptCache,
    InjectionResolver,
    VectorFiles,
    tokenize,
)
from introscope.serve.jobs import Completion, Job
from introscope.serve.limits import ServeLimits, model_context
from introscope.serve.schemas import (
    UNSUPPORTED,
    ChatRequest,
    CompletionRequest,
    InjectionSpec,
)
from introscope.serve.validate import Sampling
from introscope.serve.worker import Worker, as_api_error, client_gone

log = logging.getLogger("introscope.serve")

#: Past a job's deadline the worker answers 504 itself; this is how long the app waits more.
GRACE_S = 1.0
#: Location parts pydantic adds for the branches of a union (``int``, ``list[str]``...).
TYPE_TAGS = frozenset({"int", "float", "str", "bool", "list", "dict", "none"})


def from_validation(exc: RequestValidationError) -> ApiError:
    """One sentence naming the first field at fault."""
    first = exc.errors()[0] if exc.errors() else {}
    kind = first.get("type")
    if kind == "json_invalid":
        return ApiError(400, "The request body is not valid JSON.")
    loc = [x for x in first.get("loc", ()) if x != "body"]
    path = ".".join(
        str(x) for x in loc if isinstance(x, int) or (str(x).isidentifier() and x not in TYPE_TAGS)
    )
    if kind == UNSUPPORTED:
        field = str(first.get("ctx", {}).get("field", "?"))
        param = f"{path}.{field}" if path else field
        return ApiError(
            400, f"The field {param!r} is not supported by the introscope server.", param=param
        )
    if not path:
        return ApiError(400, "The request body must be a JSON object.")
    msg = str(first.get("msg", "invalid value")).rstrip(".")
    return ApiError(400, f"Invalid request field {path!r}: {msg}.", param=path)


async def disconnected(request: Request) -> None:
    """Returns when the client closes the connection (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (nobody may be waiting on it any more)."""
    if not future.cancelled():
        future.exception()


class Service:
    """What the routes share: the model, its worker, the injection resolver, the limits."""

    def __init__(
        self,
        lm: LoadedModel,
        limits: ServeLimits,
        worker: Worker,
        resolver: InjectionResolver,
        name: str,
        scrub: PathScrubber,
    ) -> None:
        self.lm = lm
        self.scrub = scrub
        self.limits = limits
        self.worker = worker
        self.resolver = resolver
        self.name = name
        self.created = int(time.time())
        self.context = model_context(lm)
        self.tokens = out.TokenText(lm.tokenizer)

    async def respond(
        self,
        request: Request,
        spec: InjectionSpec | None,
        prompts: list[str],
        s: Sampling,
        requested: tuple[int | None, str],
        prompt_param: str,
        chat: bool,
    ) -> Response:
        deadline = time.monotonic() + self.limits.timeout_s
        window = self.resolver.check(spec) if spec is not None else None
        encoded = await asyncio.to_thread(lambda: [tokenize(self.lm, p) for p in prompts])
        budgets = [
            validate.budget(
                requested[0],
                len(t.ids),
                self.context,
                self.limits,
                param=requested[1],
                prompt_param=prompt_param,
            )
            for t in encoded
        ]
        injections: list[Injection | None] = [None] * len(prompts)
        if spec is not None and window is not None:
            vs = await self.resolver.vector_set(spec, deadline - time.monotonic())
            injections = [self.resolver.injection(spec, window, vs, t) for t in encoded]
        queue: asyncio.Queue[tuple[int, str | None]] = asyncio.Queue()
        sink = self.sink(queue) if s.stream else None
        jobs = [
            Job(
                prompt=p.text,
                n_prompt_tokens=len(p.ids),
                injection=inj,
                max_tokens=n,
                temperature=s.temperature,
                top_p=s.top_p,
                seed=(s.seed + i) % 2**63,  # the prompts of one request draw apart
                stop=s.stop,
                top_logprobs=s.top_logprobs,
                deadline=deadline,
                on_delta=sink(i) if sink is not None else None,
            )
            for i, (p, inj, n) in enumerate(zip(encoded, injections, budgets, strict=True))
        ]
        self.worker.submit(jobs)
        env = out.Envelope.new(
            "chatcmpl" if chat else "cmpl",
            int(time.time()),
            self.name,
            self.lm.info.weights_hash or None,
            jobs[0].describe_injection(),
        )
        if s.stream:
            return self.stream(jobs, queue, env, chat, s.include_usage)
        done = await self.wait(jobs, request)
        if chat:
            return JSONResponse(out.chat_body(env, done[0], self.tokens))
        return JSONResponse(out.completion_body(env, done, self.tokens))

    def sink(
        self, queue: asyncio.Queue[tuple[int, str | None]]
    ) -> Callable[[int], Callable[[str], None]]:
        loop = asyncio.get_running_loop()

        def for_choice(index: int) -> Callable[[str], None]:
            def on_delta(text: str) -> None:
                # Called on the worker thread; a closed loop means nobody is listening.
                if not loop.is_closed():
                    loop.call_soon_threadsafe(queue.put_nowait, (index, text))

            return on_delta

        return for_choice

    async def wait(self, jobs: list[Job], request: Request) -> list[Completion]:
        """The jobs' completions; gives up (and cancels them) if the client goes away."""
        futures = [asyncio.wrap_future(j.future) for j in jobs]
        for f in futures:
            f.add_done_callback(_retrieve)
        everything: asyncio.Future[list[Completion]] = asyncio.gather(*futures)
        everything.add_done_callback(_retrieve)
        gone: asyncio.Future[None] = asyncio.ensure_future(disconnected(request))
        try:
            timeout = max(0.0, jobs[0].deadline - time.monotonic()) + GRACE_S
            waiting: set[asyncio.Future[Any]] = {everything, gone}
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if everything in done:
                return list(everything.result())
            if gone in done:
                raise client_gone()
            raise ApiError(504, f"The request took longer than {self.limits.timeout_s:g} s.")
        finally:
            gone.cancel()
            for j in jobs:
                if not j.future.done():
                    j.cancel()

    def stream(
        self,
        jobs: list[Job],
        queue: asyncio.Queue[tuple[int, str | None]],
        env: out.Envelope,
        chat: bool,
        include_usage: bool,
    ) -> StreamingResponse:
        futures = [asyncio.wrap_future(j.future) for j in jobs]

        def finished(index: int) -> Callable[[asyncio.Future[Completion]], None]:
            def tell(future: asyncio.Future[Completion]) -> None:
                _retrieve(future)
                queue.put_nowait((index, None))

            return tell

        for i, f in enumerate(futures):
            f.add_done_callback(finished(i))
        scrub = self.scrub

        async def events() -> AsyncIterator[str]:
            sent = [""] * len(jobs)
            results: dict[int, Completion] = {}
            try:
                if chat:
                    yield out.first_chunk(env, len(jobs))
                while len(results) < len(jobs):
                    timeout = max(0.0, jobs[0].deadline - time.monotonic()) + GRACE_S
                    try:
                        i, text = await asyncio.wait_for(queue.get(), timeout)
                    except TimeoutError:
                        yield error_event(ApiError(504, "The request took too long."), scrub)
                        return
                    if text is not None:
                        sent[i] += text
                        yield out.chunk(env, chat, i, text, None)
                        continue
                    f = futures[i]
                    exc = client_gone() if f.cancelled() else f.exception()
                    if exc is not None:
                        yield error_event(as_api_error(exc), scrub)
                        return
                    c = results[i] = f.result()
                    if c.text.startswith(sent[i]) and len(c.text) > len(sent[i]):
                        yield out.chunk(env, chat, i, c.text[len(sent[i]) :], None)
                    yield out.chunk(env, chat, i, None, c.finish_reason)
                if include_usage:
                    yield out.usage_chunk(env, chat, [results[i] for i in range(len(jobs))])
                yield out.event("[DONE]")
            finally:  # also when the client disconnects and the response is cancelled
                for j in jobs:
                    if not j.future.done():
                        j.cancel()

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def error_event(error: ApiError, scrub: PathScrubber) -> str:
    """An error after the stream has begun (its 200 status is already sent)."""
    body = {
        "message": scrub(error.message),
        "type": ERROR_TYPES.get(error.status, "server_error"),
        "param": error.param,
        "code": error.code,
        "status": error.status,
    }
    return out.event({"error": body})


def create_app(
    lm: LoadedModel,
    *,
    vectors: VectorSet | None = None,
    model_name: str | None = None,
    api_key: str | None = None,
    vector_dir: Path | None = None,
    limits: ServeLimits | None = None,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """Build the app serving ``lm`` (the ``introscope.serve`` module docstring has the rules).

    ``vector_dir``: the only directory ``vector_file`` may read from (none: no file is read).
    ``allowed_hosts``: Host names answered besides the loopback names (``"*"``: any).
    With an ``api_key``, the interactive docs and the OpenAPI schema are off.
    """
    limits = limits or ServeLimits()
    if vectors is not None:
        vectors.check_model(lm)
    if vector_dir is not None and not vector_dir.expanduser().is_dir():
        raise IntroscopeError(f"The vector directory {str(vector_dir)!r} is not a directory.")
    worker = Worker(lm, limits)
    files = VectorFiles(vector_dir, lm, limits.max_vector_file_chars)
    concepts = ConceptCache(limits, worker.submit_build)
    resolver = InjectionResolver(lm, limits, vectors, files, concepts)
    scrub = PathScrubber([(files.directory, "<vector-dir>")] if files.directory else [])
    service = Service(lm, limits, worker, resolver, model_name or lm.info.spec, scrub)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(worker.close)

    docs = api_key is None
    app = FastAPI(
        title="introscope",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.add_middleware(
        Gate, api_key=api_key, allowed_hosts=allowed_hosts, max_body_bytes=limits.max_body_bytes
    )
    app.state.introscope = worker
    app.state.service = service

    @app.exception_handler(ApiError)
    async def _api_error(_r: Request, exc: ApiError) -> Response:
        return error_response(exc, scrub)

    @app.exception_handler(IntroscopeError)
    async def _introscope_error(_r: Request, exc: IntroscopeError) -> Response:
        return error_response(ApiError(400, str(exc)), scrub)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_r: Request, exc: RequestValidationError) -> Response:
        return error_response(from_validation(exc), scrub)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_r: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail)
        if detail == "There was an error parsing the body":  # FastAPI: not UTF-8, too deep
            detail = "The request body could not be parsed as JSON"
        return error_response(ApiError(exc.status_code, detail), scrub)

    @app.exception_handler(Exception)
    async def _internal_error(_r: Request, exc: Exception) -> Response:
        log.error("Request failed", exc_info=exc)
        return error_response(ApiError(500, f"The server failed with {type(exc).__name__}."))

    def model_card() -> dict[str, Any]:
        return {
            "id": service.name,
            "object": "model",
            "created": service.created,
            "owned_by": "introscope",
        }

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        if model_id != service.name:
            raise ApiError(404, "This server serves one model; list it at /v1/models.",
                           param="model", code="model_not_found")  # fmt: skip
        return model_card()

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatRequest, request: Request) -> Response:
        s = validate.sampling(req, limits, validate.chat_logprobs(req, limits))
        prompt = validate.chat_prompt(lm, req.messages, limits)
        requested = (
            (req.max_completion_tokens, "max_completion_tokens")
            if req.max_completion_tokens is not None
            else (req.max_tokens, "max_tokens")
        )
        return await service.respond(
            request, req.introscope, [prompt], s, requested, "messages", chat=True
        )

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest, request: Request) -> Response:
        s = validate.sampling(req, limits, validate.completion_logprobs(req))
        prompts = validate.completion_prompts(req, limits)
        return await service.respond(
            request, req.introscope, prompts, s, (req.max_tokens, "max_tokens"), "prompt", False
        )

    return app
