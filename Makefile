# lessoncam: the two commands are `make demo` and `make test` (see README.md).
# Neither builds anything from C: every dependency comes as a wheel, and picamera2 (for the
# adapter's tests off a Pi) is installed without its dependencies, whose Pi-only parts the
# tests stub.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# What the demo needs (the server and the simulated unit), and what the tests need on top.
DEMO_STAMP := $(VENV)/.demo-stamp
STAMP := $(VENV)/.test-stamp
DEMO_DATA ?= var/demo

.PHONY: venv demo test check lint typecheck format bench bench-ingest bench-playback \
	bench-assembly bench-avsync bench-stop-to-ready bench-web bench-tracking bench-storage reliability \
	bench-watch-together \
	messages pi-rehearsal clean

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "lessoncam needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[server,device]'
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml tests/picamera2-requirements.txt tests/oidc_op/package-lock.json | $(PY)
	$(PY) -m pip install --quiet -e '.[server,device,dev]'
	$(PY) -m pip install --quiet --no-deps -r tests/picamera2-requirements.txt
	# The OpenID Provider the sign-in tests run against (oidc-provider, pinned in the lock file).
	cd tests/oidc_op && npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/lessoncam-server demo --data-dir $(DEMO_DATA)

test: $(STAMP) lint typecheck
	$(PY) -m pytest

# The fast lane while working: lint, types and the tests not marked slow (each under a second).
check: $(STAMP) lint typecheck
	$(PY) -m pytest -m 'not slow' -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	shellcheck -x systemd/install-device.sh systemd/install-server.sh tests/hardware/run-on-unit.sh

typecheck: $(STAMP)
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: bench-ingest bench-playback bench-assembly bench-avsync bench-stop-to-ready bench-web \
	bench-tracking bench-storage bench-watch-together

bench-ingest: $(STAMP)
	$(PY) bench/ingest.py

bench-playback: $(STAMP)
	$(PY) bench/playback.py

bench-assembly: $(STAMP)
	$(PY) bench/assembly.py

bench-avsync: $(STAMP)
	$(PY) bench/avsync.py

bench-stop-to-ready: $(STAMP)
	$(PY) bench/stop_to_ready.py

bench-web: $(STAMP)
	$(PY) bench/web.py

# Lesson media from an S3-compatible bucket (moto's server) vs the local disk (issue 18).
bench-storage: $(STAMP)
	$(PY) bench/storage.py

# Extract the web app's text and merge it into the Dutch catalogue (then translate; see docs/web.md).
WEB := server/lessoncam_server/web
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F $(WEB)/babel.cfg -k t:2 -k N_ --no-location --sort-output \
		--project lessoncam -o $(WEB)/locale/messages.pot $(WEB)
	$(VENV)/bin/pybabel update -i $(WEB)/locale/messages.pot -d $(WEB)/locale -D messages \
		--width 100 --ignore-obsolete

bench-tracking: $(STAMP)
	$(PY) bench/tracking.py

# Watching together in headless Chromium: 10 followers in step with a leader, vs a naive peer.
bench-watch-together: $(STAMP)
	$(PY) bench/watch_together.py

# The reliability and security suite, long form (issue 6); see bench/reliability.py.
reliability: $(STAMP)
	$(PY) bench/reliability.py

# The arm64 rehearsal (issue 12), as root: the real installer, the device tests and one
# lesson in an emulated Debian arm64 root; slow (see docs/pi-rehearsal.md), not part of test.
pi-rehearsal: $(DEMO_STAMP)
	$(PY) bench/pi_rehearsal.py $(REHEARSAL_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
