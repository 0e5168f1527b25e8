"""Turn a request's ``introscope`` field into an :class:`Injection`, checked against its prompt.

Vectors come from the set the server was started with, from a file inside ``--vector-dir``
(read off the event loop, kept in a small LRU keyed by path, size and modification time), or
for a concept word from the concept cache: an LRU of vectors built on demand. A new concept
costs a batch of forward passes (the word plus the baseline words), so building one is
bounded: the word's length, a rate (``concept_builds_per_minute``) and the number of builds
waiting. Builds run on the model's worker as tasks of their own, between generation
batches, never inside another request's batch; concurrent requests for the same new word
share one build.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from introscope.core.layers import resolve_layer
from introscope.core.models import LoadedModel
from introscope.core.steering import Injection, Window, resolve_injection
from introscope.core.vectors import VectorSet, load_vectors
from introscope.errors import IntroscopeError
from introscope.serve.errors import ApiError, bad_request
from introscope.serve.limits import RateLimiter, ServeLimits
from introscope.serve.schemas import InjectionSpec

CONCEPT_CACHE_SIZE = 64  # concept vectors kept (LRU)
FILE_CACHE_SIZE = 8  # vector files kept (LRU)
MAX_NAME_CHARS = 200  # a vector or concept name looked up in a set
MAX_WINDOW_CHARS = 1000  # a window (its marker text included)
MAX_LAYER_CHARS = 16  # a layer given as text ("12", "0.67", "67%")


@dataclass(frozen=True)
class PromptTokens:
    """A templated prompt as the engine will tokenize it."""

    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]


def tokenize(lm: LoadedModel, text: str) -> PromptTokens:
    enc = lm.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [(int(a), int(b)) for a, b in enc["offset_mapping"]]
    return PromptTokens(text, list(enc["input_ids"]), offsets)


class VectorFiles:
    """Vector files a request may name: only files inside one directory."""

    def __init__(self, directory: Path | None, lm: LoadedModel, max_name_chars: int) -> None:
        self.directory = directory.expanduser().resolve() if directory is not None else None
        self.lm = lm
        self.max_name_chars = max_name_chars
        self._cache: OrderedDict[tuple[str, int, int], VectorSet] = OrderedDict()
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        """The file ``name`` refers to, refusing anything outside the directory."""
        param = "introscope.vector_file"
        if self.directory is None:
            raise bad_request(
                "This server reads no vector files; start it with --vector-dir DIR to allow "
                "vector_file.",
                param,
            )
        if not name or len(name) > self.max_name_chars:
            raise bad_request(
                f"vector_file must be a file name of 1 to {self.max_name_chars} characters.",
                param,
            )
        if not name.isprintable() or "\\" in name:
            raise bad_request("vector_file contains a character a file name may not.", param)
        p = (self.directory / name).resolve()
        if Path(name).is_absolute() or not p.is_relative_to(self.directory):
            raise bad_request(
                "vector_file must name a file inside the server's vector directory.", param
            )
        return p

    def load(self, name: str) -> VectorSet:
        """Read (or reuse) the vector file ``name``; errors name the file as the client did."""
        p = self.path(name)
        param = "introscope.vector_file"
        try:
            st = p.stat()
        except OSError:
            raise bad_request(f"Vector file {name!r} does not exist.", param) from None
        if not p.is_file():
            raise bad_request(f"Vector file {name!r} is not a file.", param)
        key = (str(p), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            vs = load_vectors(p, self.lm)
        except IntroscopeError as exc:  # its message quotes the absolute path
            raise bad_request(str(exc).replace(str(p), name), param) from None
        except (KeyError, ValueError, TypeError):  # a readable file with missing metadata
            raise bad_request(
                f"Vector file {name!r} lacks the metadata of an introscope vector file.", param
            ) from None
        with self._lock:
            self._cache[key] = vs
            while len(self._cache) > FILE_CACHE_SIZE:
                self._cache.popitem(last=False)
        return vs


class ConceptCache:
    """Concept vectors built on demand, bounded in word length, rate and backlog."""

    def __init__(self, limits: ServeLimits, build: Callable[[str], Future[VectorSet]]) -> None:
        self.limits = limits
        self.build = build
        self.rate = RateLimiter(limits.concept_builds_per_minute)
        self._cache: OrderedDict[str, VectorSet] = OrderedDict()
        self._building: dict[str, Future[VectorSet]] = {}

    def check_word(self, word: str) -> None:
        n = self.limits.max_concept_chars
        if not word.strip() or len(word) > n or not word.isprintable():
            raise bad_request(
                f"introscope.concept must be a printable word of 1 to {n} characters.",
                "introscope.concept",
            )

    async def get(self, word: str, timeout: float) -> VectorSet:
        key = word.lower()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        future = self._building.get(key)
        if future is None:
            wait = self.rate.take()
            if wait > 0:
                raise ApiError(
                    429,
                    f"New concept vectors are limited to {self.limits.concept_builds_per_minute:g} "
                    f"a minute; retry in {wait:.0f} s or use a concept already built.",
                    param="introscope.concept",
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
            future = self.build(word)  # raises a 429 when too many builds wait
            self._building[key] = future
        try:
            vs = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except TimeoutError:
            raise ApiError(
                504, "The request timed out while its concept vector was being built."
            ) from None
        finally:
            if future.done():
                self._building.pop(key, None)
        self._cache[key] = vs
        while len(self._cache) > CONCEPT_CACHE_SIZE:
            self._cache.popitem(last=False)
        return vs


class InjectionResolver:
    """Checks an ``introscope`` field up front and builds its injection for one prompt."""

    def __init__(
        self,
        lm: LoadedModel,
        limits: ServeLimits,
        vectors: VectorSet | None,
        files: VectorFiles,
        concepts: ConceptCache,
    ) -> None:
        self.lm = lm
        self.limits = limits
        self.vectors = vectors
        self.files = files
        self.concepts = concepts

    def check(self, spec: InjectionSpec) -> Window:
        """Everything that does not need the vectors or the prompt (fails fast)."""
        bound = self.limits.max_strength
        if abs(spec.strength) > bound:
            raise bad_request(
                f"introscope.strength must be between -{bound:g} and {bound:g}, "
                f"not {spec.strength:g}.",
                "introscope.strength",
            )
        for field, text, most in (
            ("layer", spec.layer, MAX_LAYER_CHARS),
            ("window", spec.window, MAX_WINDOW_CHARS),
        ):
            if isinstance(text, str) and len(text) > most:
                raise bad_request(
                    f"introscope.{field} is longer than {most} characters.", f"introscope.{field}"
                )
        try:
            resolve_layer(spec.layer, self.lm.n_layers)
        except IntroscopeError as exc:
            raise bad_request(str(exc), "introscope.layer") from None
        try:
            window = Window.parse(spec.window)
        except IntroscopeError as exc:
            raise bad_request(str(exc), "introscope.window") from None
        if spec.concept and spec.vector and spec.concept != spec.vector:
            raise bad_request(
                "Give either introscope.concept or introscope.vector, not both.",
                "introscope.vector",
            )
        if not (spec.vector or spec.concept):
            raise bad_request(
                "The introscope field needs a concept or a vector name.", "introscope.concept"
            )
        for field, name in (("vector", spec.vector), ("concept", spec.concept)):
            if name is not None and len(name) > MAX_NAME_CHARS:
                raise bad_request(
                    f"introscope.{field} is longer than {MAX_NAME_CHARS} characters.",
                    f"introscope.{field}",
                )
        if spec.vector_file is not None:
            self.files.path(spec.vector_file)
        elif self.vectors is None and spec.vector and not spec.concept:
            raise bad_request(
                "The server has no vector set loaded, so introscope.vector needs a vector_file.",
                "introscope.vector",
            )
        elif self.vectors is None and spec.concept:
            self.concepts.check_word(spec.concept)
        return window

    async def vector_set(self, spec: InjectionSpec, timeout: float) -> VectorSet:
        if spec.vector_file is not None:
            return await asyncio.to_thread(self.files.load, spec.vector_file)
        if self.vectors is not None:
            return self.vectors
        return await self.concepts.get(cast(str, spec.concept), timeout)

    def injection(
        self, spec: InjectionSpec, window: Window, vs: VectorSet, prompt: PromptTokens
    ) -> Injection:
        name = cast(str, spec.vector or spec.concept)
        param = "introscope.vector" if spec.vector else "introscope.concept"
        try:
            inj = vs.injection(name, spec.layer, spec.strength, window, mode=spec.mode)
        except IntroscopeError as exc:
            raise bad_request(str(exc), param) from None
        try:
            resolve_injection(
                inj,
                self.lm.n_layers,
                self.lm.hidden_size,
                len(prompt.ids),
                prompt.offsets,
                prompt.text,
            )
        except IntroscopeError as exc:
            raise bad_request(str(exc), "introscope.window") from None
        return inj
