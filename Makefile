# Thin mirror of CI: `make test` is what .ci/run calls. Each target creates
# .venv if missing and installs the package (editable) with the extras it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
comma := ,
EXTRAS := test$(comma)bench$(comma)train$(comma)lint$(comma)dask$(if $(WITH_TORCH),$(comma)torch)
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: test bench bench-suite train lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

test: $(STAMP)
	$(PY) -m pytest

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

format: $(STAMP)
	$(PY) -m ruff format fastconv tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
