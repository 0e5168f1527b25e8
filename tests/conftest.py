"""Shared fixtures: the bundled model (loaded once per session), its engine, concept vectors,
and a factory for tiny randomly initialised models of every supported architecture.

Nothing here touches the network: the hub is forced offline before transformers is imported.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TQDM_DISABLE", "1")

from collections.abc import Callable
from typing import Any

import pytest
import torch

from introscope.core.engine import Engine
from introscope.core.models import LoadedModel, load_model
from introscope.core.vectors import VectorSet, concept_vectors
from introscope.words import word_list
from support import TrialRecords, tiny_model

# The CI and developer machines have 2 cores shared with other jobs; with 2 intra-op threads
# an oversubscribed CPU makes every small op wait on a descheduled thread (measured: 15x
# slower generation). One thread is both faster there and deterministic. Override with
# INTROSCOPE_TEST_THREADS.
torch.set_num_threads(int(os.environ.get("INTROSCOPE_TEST_THREADS", "1")))

#: Concepts used by every test that needs concept vectors (the first 16 of the paper's list).
N_CONCEPTS = 16


@pytest.fixture(scope="session")
def make_tiny() -> Callable[..., Any]:
    """``make_tiny(arch, n_layers=4, vocab_size=128, seed=0)`` -> a tiny random model."""
    return tiny_model


@pytest.fixture(scope="session")
def lm() -> LoadedModel:
    """The bundled SmolLM2-135M-Instruct (30 layers, d=576), loaded once per session."""
    return load_model()


@pytest.fixture(scope="session")
def engine(lm: LoadedModel) -> Engine:
    return Engine(lm)


@pytest.fixture(scope="session")
def concept_words() -> list[str]:
    return word_list("main")[:N_CONCEPTS]


@pytest.fixture(scope="session")
def concept_vs(engine: Engine, concept_words: list[str]) -> VectorSet:
    """Paper-method concept vectors for the first 16 main concepts, built once."""
    return concept_vectors(engine, concept_words, keep_baseline=True)


# --------------------------------------------------------------------------- synthetic runs


@pytest.fixture
def trial_records() -> Callable[..., TrialRecords]:
    return TrialRecords
