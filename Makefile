# Thin mirror of CI: `make test` is what .ci/run calls. Each target creates
# .venv if missing and installs the package (editable) with the extras it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
comma := ,
EXTRAS := test$(comma)bench$(comma)train$(comma)lint$(comma)dask$(if $(WITH_TORCH),$(comma)torch)
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: test test-boundscheck bench bench-suite train lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

test: $(STAMP)
	$(PY) -m pytest

# the engine's tests (not the slow tool and cluster ones) with numba's bounds
# checks compiled into every kernel: an index outside an array raises
# IndexError instead of reading or writing past it
BOUNDSCHECK_SKIP := test_bench test_cli test_checker test_train test_dask_cluster test_readme
test-boundscheck: $(STAMP)
	d=$$(mktemp -d) && NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=$$d $(PY) -m pytest -q -p no:cacheprovider tests $(foreach t,$(BOUNDSCHECK_SKIP),--ignore=tests/$(t).py); s=$$?; rm -rf $$d; exit $$s

bench: $(STAMP)
	$(PY) -m fastconv bench $(BENCH_ARGS)

bench-suite: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-autosave $(BENCH_ARGS)

$(VENV)/.installed-train: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[train]"
	touch $@

train: $(VENV)/.installed-train
	$(PY) -m fastconv train $(TRAIN_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check fastconv tests benchmarks
	$(PY) -m ruff format --check fastconv tests benchmarks
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format fastconv tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
