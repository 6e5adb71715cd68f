# One command each, from a fresh clone (README "Set up"):
#   make book    set up .venv when missing, then build the book (every chapter executed) into _build/html
#   make test    set up .venv when missing, then run the tests (tests/ and every chapter notebook)
#   make browser-check   open every page of the built book in headless Chromium (.ci/browser_check.py)
#   make book-real DATA=/path/to/data   the book strictly on real data (BEATSSL_DATA=DATA), into _build/real
# Set-up: a virtual environment, CPU PyTorch first (the default `pip install torch` pulls several GB of CUDA
# wheels), then the package with its extras. Done once: stamp files in the environment skip it on later calls, and
# a changed pyproject.toml reinstalls the package.
# A machine that holds a local CPU wheel and cannot reach the PyTorch index (our CI):
#   make test TORCH_SPEC=torch==2.13.0 TORCH_INDEX=

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
EXTRAS ?= book,test,browser
# One OpenMP (torch, numba) thread per process unless the environment says otherwise: the chapters' and tests' models
# are small, and when other jobs share the cores a second thread mostly waits. benchmarks/bench_chapters.py on 2 cores,
# 2026-12-04: quiet, 2 threads 101 s for the book; beside one training run, 1 thread 112 s (chapter 8 23 s) and
# 2 threads 202 s (chapter 8 77 s).
OMP_NUM_THREADS ?= 1
export OMP_NUM_THREADS
# Extra arguments: e.g. BOOK_FLAGS="-W -n --keep-going" (strict build), PYTEST_ARGS="-q tests/test_plots.py".
BOOK_FLAGS ?=
PYTEST_ARGS ?=
# The real-data build (book-real): the data root (holding ptb-xl/ and/or ludb/), its output folder (the HTML lands
# in $(BOOK_REAL_OUT)/_build/html: jupyter-book appends _build; under _build/ it is git-ignored and never read as a
# source, and it leaves the default build in _build/html alone), and its flags: strict, as CI's synthetic build.
DATA ?= $(BEATSSL_DATA)
BOOK_REAL_OUT ?= _build/real
BOOK_REAL_FLAGS ?= -W -n --keep-going
# A smaller table of contents to try the target on a few chapters (links to the others then warn: drop -W).
BOOK_REAL_TOC ?= _toc.yml
# Python warnings in the chapters' kernels that fail the real-data build: a warning printed on a page is not a
# Sphinx warning, so -W alone lets it through (the real-data path once showed PyTorch's non-writable-array
# UserWarning). The kernels inherit PYTHONWARNINGS; the build keeps its own.
BOOK_REAL_PYTHONWARNINGS ?= error::UserWarning

BIN := $(abspath $(VENV))/bin
# Tools run from the environment, and so do the notebooks' kernels and any subprocess they start.
export PATH := $(BIN):$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup book book-real test browser-check clean-book

setup: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch-installed: | $(VENV)/bin/python
	$(BIN)/python -m pip install $(TORCH_SPEC) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/python -m pip install -e ".[$(EXTRAS)]"
	$(BIN)/python -c "import torch, beatssl_lite; \
	  print('torch', torch.__version__, '| beatssl_lite', beatssl_lite.__version__)"
	touch $@

book: setup
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

# Every chapter executed on the real data in DATA (BEATSSL_DATA), strictly: a warning, a failing cell or a Python
# UserWarning in a chapter fails the build. The chapters print which data they read.
book-real: setup
	@test -n "$(DATA)" || \
	  { echo "make book-real: set DATA=/path/to/data (a folder holding ptb-xl/ and/or ludb/)" >&2; exit 2; }
	@test -d "$(DATA)" || { echo "make book-real: DATA=$(DATA) is not a directory" >&2; exit 2; }
	BEATSSL_DATA="$(abspath $(DATA))" $(BIN)/python -c "import sys; from beatssl_lite import data_root; \
	  found = {name: data_root(None, name) for name in ('ptbxl', 'ludb')}; print('book-real:', found); \
	  sys.exit(0 if any(found.values()) else 'make book-real: DATA holds neither ptb-xl/ nor ludb/')"
	BEATSSL_DATA="$(abspath $(DATA))" PYTHONWARNINGS="$(BOOK_REAL_PYTHONWARNINGS)" \
	  $(BIN)/jupyter-book build . --path-output $(BOOK_REAL_OUT) --toc $(BOOK_REAL_TOC) $(BOOK_REAL_FLAGS)

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

browser-check: setup
	$(BIN)/python .ci/browser_check.py _build/html

clean-book:
	$(BIN)/jupyter-book clean --all .
