# Two commands do everything; each builds the virtual environment on first use.
#   make run    the main job: the whole tutorial on the local target (mnist-aci run)
#   make test   ruff, mypy, the import contracts and the whole test suite
#   make bench  the scoring benchmark (needs MNIST_DATA_DIR)
#   make test-stress  the server, CLI and notebook tests while stress-ng keeps every CPU busy
# scikit-learn 1.9 needs Python >= 3.11; prefer python3.11 where several are installed.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test test-stress bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/mnist-aci run $(ARGS)

test: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks score.py
	$(BIN)/ruff format --check src tests benchmarks score.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(ARGS)

# stress-ng comes from Debian (installed here when missing); it is stopped however pytest ends.
test-stress: $(BIN)/.installed
	command -v stress-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq stress-ng; }
	stress-ng --cpu "$$(nproc)" --timeout 2h --quiet & stress=$$!; \
	trap 'kill $$stress 2>/dev/null; wait $$stress 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python -m pytest -m server $(ARGS)

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_scoring.py $(ARGS)

clean:
	rm -rf $(VENV) outputs .mnist_aci
