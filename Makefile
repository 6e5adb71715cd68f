# One command each, from a fresh clone (README "Set up"):
#   make book    set up .venv when missing, then build the book (every chapter executed) into _build/html
#   make test    set up .venv when missing, then run the tests (tests/ and every chapter notebook)
#   make browser-check   open every page of the built book in headless Chromium (.ci/browser_check.py)
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
# Extra arguments: e.g. BOOK_FLAGS="-W -n --keep-going" (strict build), PYTEST_ARGS="-q tests/test_plots.py".
BOOK_FLAGS ?=
PYTEST_ARGS ?=

BIN := $(abspath $(VENV))/bin
# Tools run from the environment, and so do the notebooks' kernels and any subprocess they start.
export PATH := $(BIN):$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup book test browser-check clean-book

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

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

browser-check: setup
	$(BIN)/python .ci/browser_check.py _build/html

clean-book:
	$(BIN)/jupyter-book clean --all .
