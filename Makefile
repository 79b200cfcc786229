# Two entry points for a fresh machine: `make run` (workflow, default config) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
WARM   := $(VENV)/.numba-warm
CORES  ?= all
# The CUDA 12 libraries' wheels (pyproject's extra cuda, ~175 MB) only where they can be used:
# a GPU that nvidia-smi lists, or CUDA=1. Both locks pin the same versions otherwise.
# `make test` asks for them: it compiles the GPU kernel to PTX with their NVRTC
# (tests/test_profiling_gpu.py) on any machine.
ifneq ($(filter test,$(MAKECMDGOALS)),)
CUDA   ?= 1
endif
CUDA   ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)
export CUDA
ifeq ($(CUDA),1)
LOCK   := requirements-cuda.lock
else
LOCK   := requirements.lock
endif
STAMP  := $(VENV)/.installed-$(basename $(LOCK))

.PHONY: run test lint bench clean-venv lava-env nir-env spyx-env genn-env lock

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

# .venv is installed from the hashed lock of pyproject.toml (with extras dev and gpu, and cuda
# where a GPU is: LOCK above), so that
# every machine gets the same files (pip's hash-checking mode,
# https://pip.pypa.io/en/stable/topics/secure-installs/). neurokws itself goes in editable,
# built by the lock's setuptools and wheel (--no-build-isolation: pip does not hash-check the
# build requirements of an isolated build, https://github.com/pypa/pip/issues/11974). The lock
# is checked against pyproject.toml first: a stale one stops here, before the venv is created
# or changed.
$(STAMP): $(LOCK) pyproject.toml envs/lib/check_lock.py
	$(PYTHON) envs/lib/check_lock.py check $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The numba kernels compiled once into their on-disk cache (src/neurokws/warm.py, two
# processes), so that the workflow's jobs load them instead of each compiling them on first
# use. The stamp lists the kernels compiled (tests/test_warm.py reads it).
$(WARM): $(STAMP) $(shell find src/neurokws -name '*.py')
	$(BIN)/python -m neurokws.warm --record $(WARM)

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

## Regenerate every hashed lock from its input (envs/lib/update_locks.sh): requirements.lock
## from pyproject.toml, envs/*/requirements*.lock from the requirements*.txt beside them, with
## pip-compile (pinned in envs/lib/lock-tools.txt, installed into .venv-lock). Pins that still
## fit are kept; `make lock UPGRADE=1` moves everything to the newest releases.
lock:
	UPGRADE="$(UPGRADE)" bash envs/lib/update_locks.sh .venv-lock

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
## The venvs are built side by side (mostly downloads and unpacking), and the numba kernels
## compiled into their cache meanwhile, as soon as .venv is ready (as `make run` does).
## The suite runs on every core (pytest-xdist: TEST_WORKERS, default one more than the
## cores, because many tests wait on subprocesses - Snakemake, Lava, the SLURM daemons - and
## the extra worker keeps the cores busy meanwhile; a test file stays on one worker), then
## the tests marked `serial`, which compare this machine's timings, alone.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test:
	$(MAKE) -j4 $(STAMP) $(TEST_DEPS) $(WARM)
	@export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" $(PYTEST_ARGS); \
	rc=$$?; $(BIN)/python -m pytest -p no:xdist -m serial $(PYTEST_ARGS); rc2=$$?; \
	if [ $$rc -eq 5 ] && [ $$rc2 -eq 5 ]; then \
		echo "make test: pytest collected no tests - failing" >&2; exit 1; fi; \
	if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then exit $$rc; fi; \
	if [ $$rc2 -ne 5 ]; then exit $$rc2; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks workflow
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint

clean-venv:
	rm -rf $(VENV) .venv-lock $(foreach env,$(SIDE_ENVS),$($(shell echo $(env) | tr a-z A-Z)_VENV)) $(SIDE_MK)
