# Two entry points for a fresh machine: `make run` (workflow, default config) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WARM   := $(VENV)/.numba-warm
CORES  ?= all

.PHONY: run test lint bench clean-venv lava-env nir-env spyx-env genn-env

# Side venvs (Lava, Norse for the NIR cross-check, Spyx, GeNN): their paths and recipes are
# defined once, in src/neurokws/utils/sidecar.py, which writes them as make variables here.
SIDE_MK := .side-envs.mk
$(SIDE_MK): src/neurokws/utils/sidecar.py src/neurokws/utils/paths.py
	PYTHONPATH=src $(PYTHON) -m neurokws.utils.sidecar make-vars > $@.tmp && mv $@.tmp $@
include $(SIDE_MK)

# `make test` builds the Lava, NIR and Spyx venvs the cross-checks need;
# NEUROKWS_SKIP_LAVA=1 / NEUROKWS_SKIP_NIR_CROSSCHECK=1 leave those out (and skip their tests).
ifneq ($(NEUROKWS_SKIP_LAVA),1)
TEST_DEPS += $(LAVA_STAMP)
endif
ifneq ($(NEUROKWS_SKIP_NIR_CROSSCHECK),1)
TEST_DEPS += $(NIR_STAMP)
endif
TEST_DEPS += $(SPYX_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev,gpu]"
	touch $(STAMP)

# The numba kernels compiled once into their on-disk cache (src/neurokws/warm.py), so
# that the workflow's jobs load them instead of each compiling them on first use.
$(WARM): $(STAMP) $(shell find src/neurokws -name '*.py')
	$(BIN)/python -m neurokws.warm
	touch $(WARM)

$(LAVA_STAMP): $(LAVA_RECIPE)
	bash $(LAVA_SETUP) $(LAVA_VENV)
$(NIR_STAMP): $(NIR_RECIPE)
	bash $(NIR_SETUP) $(NIR_VENV)
$(SPYX_STAMP): $(SPYX_RECIPE)
	bash $(SPYX_SETUP) $(SPYX_VENV)

## Create .venv-lava (Lava 0.10 / lava-dl 0.6 on Python 3.11, about a minute).
lava-env: $(LAVA_STAMP)
## Create .venv-nir (Norse 1.1.0 + CPU torch on Python 3.11, about a minute).
nir-env: $(NIR_STAMP)
## Create .venv-spyx (Spyx 1.0 + CPU JAX: the Figure 3 BPTT baseline, about 30 s).
spyx-env: $(SPYX_STAMP)
## Build .venv-genn from GeNN / mlGeNN source checkouts (envs/genn/README.md), e.g.
##   make genn-env GENN_SRC=../genn ML_GENN_SRC=../ml_genn      (about 10 min on 2 cores)
genn-env: $(STAMP)
	GENN_SRC="$(GENN_SRC)" ML_GENN_SRC="$(ML_GENN_SRC)" bash $(GENN_SETUP) $(GENN_VENV)

## Run the workflow on the embedded default config (config/config.yaml) with all cores,
## then build the HTML report (results/report.html). The venvs the default needs (.venv and
## the side venvs of its Lava evaluation and Figure 3 baseline) are built first, side by side
## (mostly downloads and unpacking), so the workflow's cores go to the data and the models;
## the numba kernels are compiled meanwhile, as soon as .venv is ready.
run:
	$(MAKE) -j3 $(STAMP) $(LAVA_STAMP) $(SPYX_STAMP) $(WARM)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --profile profiles/default --cores $(CORES)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --profile profiles/default --report results/report.html

## Run the test suite (pytest exit code 5, "no tests collected", counts as failure).
test: $(STAMP) $(TEST_DEPS)
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests - failing" >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint

clean-venv:
	rm -rf $(VENV) $(foreach env,$(SIDE_ENVS),$($(shell echo $(env) | tr a-z A-Z)_VENV)) $(SIDE_MK)
