# Two commands do everything; each builds the virtual environment on first use, exactly as uv.lock says.
#   make run    the main job: the whole tutorial on the local target (mnist-aci run)
#   make check  the quick lane: ruff, codespell, validate-pyproject, mypy, the import contracts and the unit
#               tests (no server, stand-in, kernel, subprocess or build; see tests/support/lanes.py), about a minute
#   make test   the style checks (ruff, codespell, validate-pyproject, the import contracts), then mypy beside
#               the whole test suite on parallel workers
#   make fmt    ruff's safe fixes, then ruff format, on the Python sources
#   make bench  the scoring benchmark (needs MNIST_DATA_DIR), MLServer beside the project's service
#   make mlserver  MLServer for the benchmark, in its own environment under .tools (done by make bench)
#   make test-stress  the server, CLI and notebook tests while stress-ng (yours to install) keeps every CPU busy
#   make lock   re-resolve uv.lock after a change to pyproject.toml (ARGS=--upgrade: newest releases allowed)
# scikit-learn 1.9 needs Python >= 3.11; prefer python3.11 where several are installed.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
# uv installs the locked environment: the uv on PATH, else this pinned release, installed once from PyPI
# with pip into .tools (git-ignored). uv runs $(PYTHON), never downloads an interpreter, and builds $(VENV).
# uv is given the interpreter's real path: a pyenv shim's path would not match .venv's, and uv would rebuild
# .venv from scratch at every sync.
UV_VERSION := 0.13.9
TOOLS := .tools
UV ?= $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
UV_ENV = UV_PYTHON=$(or $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null),$(PYTHON)) \
  UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV)

.PHONY: run check test lint style fmt typecheck suite test-stress has-stress-ng bench mlserver lock clean

#: The Python sources ruff checks and formats (src/mnist_aci/files is excluded in pyproject.toml: links).
PY_SOURCES := src tests benchmarks tools score.py score_io.py

# Every Python the tests start (CLI runs, servers, kernels, pytest workers) imports the Azure SDKs: their
# bytecode is compiled once, at install, even where PYTHONDONTWRITEBYTECODE keeps Python from caching it.
UV_COMPILE := --compile-bytecode
#: The unit lane: tests with none of the lane markers (the same list as LANES in tests/support/lanes.py).
UNIT_LANE := not (server or standin or kernel or subprocess or build or full_mnist or soak)
#: pytest-xdist workers for `make test`: three on this 2-core machine, where many tests wait (for a server to
#: start, for the SDKs' polling) and a third worker fills those waits (measured: 180 % CPU instead of 170 %).
#: The full model is trained once and shared between them, and the tests that use it go to one worker
#: (tests/support/workers.py: group_costly_fixtures).
WORKERS ?= 3

# The Azure stand-in's HTTPS proxy (mitmproxy) in its own venv: it pins other cryptography and Flask releases
# than the project. Locked with hashes in tests/standin/requirements-mitmproxy.txt.
MITMPROXY := $(TOOLS)/mitmproxy
MITMPROXY_LOCK := tests/standin/requirements-mitmproxy.txt
$(MITMPROXY)/bin/mitmdump: $(MITMPROXY_LOCK) Makefile | $(UV)
	rm -rf $(MITMPROXY)
	$(UV_ENV) $(UV) venv --quiet $(MITMPROXY)
	VIRTUAL_ENV=$(MITMPROXY) $(UV) pip install --quiet $(UV_COMPILE) --require-hashes -r $(MITMPROXY_LOCK)
	touch $@

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

# --locked: install what uv.lock pins, and stop if uv.lock no longer matches pyproject.toml.
$(BIN)/.installed: pyproject.toml uv.lock Makefile | $(UV)
	$(UV_ENV) $(UV) sync --locked --extra dev $(UV_COMPILE) || \
	  { echo "uv sync failed; if uv.lock is out of date with pyproject.toml, 'make lock' refreshes it" >&2; exit 1; }
	touch $@

run: $(BIN)/.installed
	$(BIN)/mnist-aci run $(ARGS)

lint: style typecheck

# The quick checks, first: a style or layering mistake stops everything at once.
style: $(BIN)/.installed
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	git ls-files -z | xargs -0 $(BIN)/codespell
	$(BIN)/validate-pyproject pyproject.toml
	$(BIN)/lint-imports

fmt: $(BIN)/.installed
	$(BIN)/ruff check --fix $(PY_SOURCES)
	$(BIN)/ruff format $(PY_SOURCES)

typecheck: $(BIN)/.installed
	$(BIN)/mypy

check: lint
	$(BIN)/python -m pytest -m "$(UNIT_LANE)" $(ARGS)

# mypy runs beside the suite: on a clean clone it takes about 20 s of one core (no cache yet), which the suite's
# waits absorb; make reports either's failure once both have ended.
test: style $(MITMPROXY)/bin/mitmdump
	$(MAKE) --no-print-directory -j2 typecheck suite

suite: $(BIN)/.installed
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup $(ARGS)

# stress-ng is a system package that make never installs: without it, test-stress stops first, saying how to
# install it. stress-ng is stopped however pytest ends.
test-stress: has-stress-ng $(BIN)/.installed $(MITMPROXY)/bin/mitmdump
	stress-ng --cpu "$$(nproc)" --timeout 2h --quiet & stress=$$!; \
	trap 'kill $$stress 2>/dev/null; wait $$stress 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python -m pytest -m server $(ARGS)

has-stress-ng:
	@command -v stress-ng >/dev/null || { \
	  echo "make test-stress needs stress-ng on PATH; make does not install system packages. Install it with your" \
	    "package manager, then run make test-stress again: 'sudo apt-get install stress-ng' (Debian, Ubuntu)," \
	    "'sudo dnf install stress-ng' (Fedora), 'brew install stress-ng' (macOS)." >&2; exit 1; }

# MLServer, served beside the project's service by the benchmark only: its own environment, kept out of
# uv.lock (a benchmark's yardstick and ~60 packages the project does not need), pinned, with .venv's
# scikit-learn, numpy, joblib and scipy so that it loads the very model file the project serves.
MLSERVER_VERSION := 1.7.1
MLSERVER_VENV := $(TOOLS)/mlserver
MODEL_PINS = $$($(BIN)/python -c "from importlib.metadata import version as v; \
  print(*(f'{p}=={v(p)}' for p in ('scikit-learn', 'numpy', 'joblib', 'scipy')))")

$(MLSERVER_VENV)/bin/mlserver: $(BIN)/.installed | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) venv --quiet --allow-existing \
	  --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $(MLSERVER_VENV)
	$(UV) pip install --quiet --python $(MLSERVER_VENV)/bin/python \
	  mlserver==$(MLSERVER_VERSION) mlserver-sklearn==$(MLSERVER_VERSION) $(MODEL_PINS)
	touch $@

mlserver: $(MLSERVER_VENV)/bin/mlserver

bench: $(BIN)/.installed $(MLSERVER_VENV)/bin/mlserver
	$(BIN)/python benchmarks/bench_scoring.py $(ARGS)

lock: | $(UV)
	$(UV_ENV) $(UV) lock $(ARGS)

clean:
	rm -rf $(VENV) outputs .mnist_aci
