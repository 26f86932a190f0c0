# Two commands on a fresh machine with Python 3.10+ and make:
#   make demo   - create .venv, install, run the main comparison
#   make test   - create .venv, install, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench fuzz lint docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[plots]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test,plots]"
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/python -m comparisons run --quick --readme README.md

# Two pytest processes: the main suite, then the CUDA tests under the Numba CUDA
# simulator (it must be switched on before numba is imported, hence its own
# process; numba's built-in numba.cuda or the numba-cuda package runs it).
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest --ignore=tests/cuda
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -p no:cacheprovider -m cudasim tests/cuda

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# The API reference (mkdocs + mkdocstrings, from the docstrings) and docs/, into site/.
docs: $(VENV)/.installed-test
	$(BIN)/mkdocs build --strict

# The long differential fuzz (not part of `make test`): N random programs through
# dyngraph and every staticgraph backend (or BACKENDS=interpret,numba), e.g. `make fuzz N=5000`.
N ?= 1000
fuzz: $(VENV)/.installed-test
	PYTHONPATH=tests BACKENDS=$(BACKENDS) $(BIN)/python -m fuzz --examples $(N)

# The peers (PyTorch CPU, JAX) are tried together, then one by one; a peer
# that cannot be installed reads "not installed" in BENCHMARKS.md.
$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed-test
	$(BIN)/python -m pip install -q -e ".[bench]" || for extra in bench-torch bench-jax; do \
		$(BIN)/python -m pip install -q -e ".[$$extra]" || \
		echo "bench: $$extra could not be installed; its rows will read 'not installed'"; \
	done
	touch $@

# make bench BENCH_ARGS="--quick" (or "--threads 1", "--only dyngraph")
bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .hypothesis
