# Two entry points for a fresh machine: `make run` (workflow, default config) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= all

.PHONY: run test lint bench clean-venv lava-env nir-env spyx-env

# Lava fixed-point simulation venv (envs/lava/README.md); the bit-exact tests need it.
# `NEUROKWS_SKIP_LAVA=1 make test` neither builds it nor runs those tests.
LAVA_VENV   := .venv-lava
LAVA_STAMP  := $(LAVA_VENV)/.neurokws-lava-stamp
LAVA_RECIPE := envs/lib/build_venv.sh envs/lava/setup_lava_env.sh envs/lava/requirements.txt envs/lava/fixups.py
ifneq ($(NEUROKWS_SKIP_LAVA),1)
TEST_DEPS   := $(LAVA_STAMP)
endif

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev,gpu]"
	touch $(STAMP)

# NIR cross-check venv (envs/nir/README.md): Norse 1.1.0's NIR importer, CPU torch 2.13.0.
# `NEUROKWS_SKIP_NIR_CROSSCHECK=1 make test` neither builds it nor runs those tests.
NIR_VENV   := .venv-nir
NIR_STAMP  := $(NIR_VENV)/.neurokws-nir-stamp
NIR_RECIPE := envs/lib/build_venv.sh envs/nir/setup_nir_env.sh envs/nir/requirements.txt
ifneq ($(NEUROKWS_SKIP_NIR_CROSSCHECK),1)
TEST_DEPS  += $(NIR_STAMP)
endif

$(NIR_STAMP): $(NIR_RECIPE)
	bash envs/nir/setup_nir_env.sh $(NIR_VENV)

## Create .venv-nir (Norse 1.1.0 + CPU torch 2.13.0 on Python 3.11, about a minute).
nir-env: $(NIR_STAMP)

# Spyx (JAX) venv for the Figure 3 BPTT baseline (envs/spyx/README.md).
SPYX_VENV   := .venv-spyx
SPYX_STAMP  := $(SPYX_VENV)/.neurokws-spyx-stamp
SPYX_RECIPE := envs/lib/build_venv.sh envs/spyx/setup_spyx_env.sh envs/spyx/requirements.txt
TEST_DEPS   += $(SPYX_STAMP)

$(SPYX_STAMP): $(SPYX_RECIPE)
	bash envs/spyx/setup_spyx_env.sh $(SPYX_VENV)

## Create .venv-spyx (Spyx 1.0 + CPU JAX: the Figure 3 BPTT baseline, about 30 s).
spyx-env: $(SPYX_STAMP)

$(LAVA_STAMP): $(LAVA_RECIPE)
	bash envs/lava/setup_lava_env.sh $(LAVA_VENV)

## Create .venv-lava (Lava 0.10 / lava-dl 0.6 on Python 3.11, about a minute).
lava-env: $(LAVA_STAMP)

## Run the workflow on the embedded default config (config/config.yaml) with all cores,
## then build the HTML report (results/report.html).
run: $(STAMP)
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
	rm -rf $(VENV) $(LAVA_VENV) $(NIR_VENV) $(SPYX_VENV)
