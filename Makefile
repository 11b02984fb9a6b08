# FaceGate: `make demo` and `make test` are the two commands a fresh machine needs (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Exact versions with hashes: requirements/core.lock (the lean core: what the demo needs) and test.lock (every extra
# and the test tools; the same versions for the core's packages). `make lock` rewrites both from pyproject.toml.
LOCKS := requirements/core.lock requirements/test.lock
# the install stamps are keyed on pyproject.toml and the locks: a re-run with nothing changed installs nothing
KEY := $(shell cat pyproject.toml $(LOCKS) | sha256sum | cut -c1-12)

.PHONY: install install-test lock lint models demo test bench benchmarks clean

install: $(VENV)/.installed-core-$(KEY)

install-test: $(VENV)/.installed-test-$(KEY)

$(VENV)/.installed-%-$(KEY): requirements/%.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $<
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-$*-* && touch $@

# newest versions pyproject.toml allows, for every platform, from Python 3.11 on; the core lock keeps test.lock's
lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.9,<1'
	$(BIN)/uv pip compile --quiet --upgrade --universal --python-version 3.11 --generate-hashes pyproject.toml \
		--extra test -o requirements/test.lock
	$(BIN)/uv pip compile --quiet --upgrade --universal --python-version 3.11 --generate-hashes pyproject.toml \
		-c requirements/test.lock -o requirements/core.lock

models: install
	$(BIN)/facegate models fetch

demo: models
	$(BIN)/facegate demo

# lint, format and type checks (ruff and mypy, configured in pyproject.toml)
lint: install-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# lint first: a formatting, lint or type error fails the run before the (long) test suite starts
test: install-test models lint
	bash .ci/system-deps.sh
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest

bench: models
	$(BIN)/python benchmarks/pipeline.py

# the full public benchmarks; each writes its table to benchmarks/results/*.md (long: LFW alone embeds 13k photos)
benchmarks: install-test bench
	$(BIN)/python benchmarks/lfw.py
	$(BIN)/python benchmarks/openset.py
	$(BIN)/python benchmarks/detect.py
	$(BIN)/python benchmarks/video.py
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/service_fuzz.py
	$(BIN)/python benchmarks/face_size.py
	OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/search.py
	$(BIN)/python benchmarks/index.py

clean:
	rm -rf $(VENV) .pytest_cache
