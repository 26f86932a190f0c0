# Two commands on a fresh machine with Python 3.10+ and make:
#   make demo   - create .venv, install, run the quick comparison (writes build/demo/)
#   make test   - create .venv, install, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo readme test torch-reference bench fuzz fuzz-cuda lint docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[plots,digits]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test,plots,digits]"
	touch $@ $(VENV)/.installed-demo

# Prints the tables; results.json, the plots and report.html go to the ignored
# build/demo/ (the checkout is left as it was).
DEMO_DIR := build/demo
demo: $(VENV)/.installed-demo
	$(BIN)/python -m comparisons run --quick --out $(DEMO_DIR)
	@echo "report: $(abspath $(DEMO_DIR))/report.html"

# Maintainers: regenerate README.md's demo block and docs/img/comparison-summary.png
# from a cold run (an empty kernel cache) and a warm one (the cache it filled).
README_CACHE := $(CURDIR)/build/readme-cache
readme: $(VENV)/.installed-demo
	rm -rf $(README_CACHE)
	GRAPHCOMPARE_CACHE_DIR=$(README_CACHE) $(BIN)/python -m comparisons run --quick --quiet \
		--out build/readme-cold > /dev/null
	GRAPHCOMPARE_CACHE_DIR=$(README_CACHE) $(BIN)/python -m comparisons run --quick \
		--out build/readme --readme README.md --cold-results build/readme-cold/results.json

# Two pytest processes: the main suite, then the CUDA tests under the Numba CUDA
# simulator (it must be switched on before numba is imported, hence its own
# process; numba's built-in numba.cuda or the numba-cuda package runs it).
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest --ignore=tests/cuda
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -p no:cacheprovider -m cudasim tests/cuda

# Maintainers, with torch installed (not part of the test extra): recompute
# tests/torch_reference/references.npz, the PyTorch values and gradients that the
# tests check dyngraph and staticgraph against without torch.
torch-reference: $(VENV)/.installed-test
	PYTHONPATH=tests $(BIN)/python -m torch_reference.generate

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

# The same fuzz on the CUDA backend under the Numba CUDA simulator (its own
# process: the simulator is switched on before numba is imported).
fuzz-cuda: $(VENV)/.installed-test
	NUMBA_ENABLE_CUDASIM=1 GRAPHCOMPARE_CUDA_SIMULATOR=1 PYTHONPATH=tests \
		$(BIN)/python -m fuzz --examples $(N) --backends interpret,cuda
