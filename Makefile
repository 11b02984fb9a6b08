# FaceGate: `make demo` and `make test` are the two commands a fresh machine needs (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: install models demo test bench benchmarks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

models: install
	$(BIN)/facegate models fetch

demo: models
	$(BIN)/facegate demo

test: models
	bash .ci/system-deps.sh
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest

bench: models
	$(BIN)/python benchmarks/pipeline.py

# the full public benchmarks; each writes its table to benchmarks/results/*.md (long: LFW alone embeds 13k photos)
benchmarks: bench
	$(BIN)/python benchmarks/lfw.py
	$(BIN)/python benchmarks/openset.py
	$(BIN)/python benchmarks/detect.py
	$(BIN)/python benchmarks/video.py
	$(BIN)/python benchmarks/service.py
	OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/search.py
	$(BIN)/python benchmarks/index.py

clean:
	rm -rf $(VENV) .pytest_cache
