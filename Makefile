# Thin mirror of CI: `make test` is what .ci/run calls. Each target creates
# .venv if missing and installs the package (editable) with the extras it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
comma := ,
EXTRAS := test$(comma)bench$(comma)train$(if $(WITH_TORCH),$(comma)torch)
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
	$(PY) -m fastconv bench

# The suite runs with the BLAS set-up that bench uses: fastconv.tools.machine
# prints the VAR=value settings this machine needs (see the README).
bench-suite: $(STAMP)
	env $$($(PY) -m fastconv.tools.machine) $(PY) -m pytest benchmarks --benchmark-only \
	  --benchmark-autosave $(BENCH_ARGS)

$(VENV)/.installed-train: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[train]"
	touch $@

train: $(VENV)/.installed-train
	$(PY) -m fastconv train $(TRAIN_ARGS)

lint: $(STAMP)
	$(PY) -m pip install -q ruff
	$(PY) -m ruff check fastconv tests benchmarks

format: $(STAMP)
	$(PY) -m pip install -q ruff
	$(PY) -m ruff format fastconv tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
