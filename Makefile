# Two entry points on a fresh machine (Python 3.11, nothing installed):
#   make demo   -> sets up .venv, runs the main job on the bundled sample
#   make test   -> sets up .venv, runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tradeformer-installed
export HF_HUB_OFFLINE ?= 1

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# CPU torch first: an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tradeformer demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest

lint: $(STAMP)
	$(PY) -m pip install -q ruff
	$(VENV)/bin/ruff check src tests benchmarks scripts

bench: $(STAMP)
	$(PY) benchmarks/data_import.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
