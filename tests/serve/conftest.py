"""Fixtures for the server tests: a tiny random model that shares the bundled tokenizer
(fast, real text in and out) and servers built on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from serve_helpers import running

from introscope.core.models import LoadedModel, from_modules
from introscope.serve import create_app
from support import BUNDLED_VOCAB

#: Each forward call of ``slow_lm`` sleeps this long, so decoding takes a known minimum time.
STEP_DELAY_S = 0.01


@pytest.fixture(scope="session")
def tiny_lm(lm: LoadedModel, make_tiny: Callable[..., Any]) -> LoadedModel:
    """A 4-layer random llama (context 512) with the bundled tokenizer."""
    return from_modules(make_tiny("llama", vocab_size=BUNDLED_VOCAB), lm.tokenizer, name="tiny")


@pytest.fixture(scope="session")
def slow_lm(lm: LoadedModel, make_tiny: Callable[..., Any]) -> LoadedModel:
    """Like ``tiny_lm``, but every forward call sleeps ``STEP_DELAY_S``."""
    model = make_tiny("llama", vocab_size=BUNDLED_VOCAB)
    model.register_forward_pre_hook(lambda *_: time.sleep(STEP_DELAY_S))
    return from_modules(model, lm.tokenizer, name="slow")


@pytest.fixture
def start() -> Iterator[Callable[[FastAPI], str]]:
    """``start(app)`` serves ``app`` until the test ends and returns its base URL."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(running(app))


@pytest.fixture(scope="module")
def tiny_app(tiny_lm: LoadedModel) -> FastAPI:
    return create_app(tiny_lm, model_name="tiny")


@pytest.fixture(scope="module")
def client(tiny_app: FastAPI) -> Iterator[httpx.Client]:
    with running(tiny_app) as url, httpx.Client(base_url=url, timeout=120) as c:
        yield c
