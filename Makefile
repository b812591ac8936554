# lessoncam: the two commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DATA ?= var/demo

.PHONY: demo test lint typecheck format bench bench-ingest bench-playback bench-assembly bench-tracking clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "lessoncam needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,device,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/lessoncam-server demo --data-dir $(DEMO_DATA)

test: $(STAMP) lint typecheck
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: bench-ingest bench-playback bench-assembly bench-tracking

bench-ingest: $(STAMP)
	$(PY) bench/ingest.py

bench-playback: $(STAMP)
	$(PY) bench/playback.py

bench-assembly: $(STAMP)
	$(PY) bench/assembly.py

bench-tracking: $(STAMP)
	$(PY) bench/tracking.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
