#!/usr/bin/env bash
# Create the Spyx venv (spyx 1.0.0 + CPU JAX 0.10.2 on Python 3.11, numpy 2) used by the
# training-cost benchmark's BPTT baseline (neurokws.profiling.training.cost_spyx). See README.md
# here.
#
#   bash envs/spyx/setup_spyx_env.sh [DEST]        # DEST defaults to .venv-spyx
#
# Idempotent and atomic (envs/lib/build_venv.sh). PYTHON_SPYX overrides the interpreter.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME=spyx
DEST="${1:-.venv-spyx}"
PYTHON="${PYTHON_SPYX:-python3.11}"
LOCKS=("$HERE/requirements.lock" "$HERE/requirements.txt")   # `make lock` makes the lock
RECIPE_FILES=("$0" "$HERE/requirements.txt" "$HERE/requirements.lock")
CHECK='import jax, optax, spyx; from flax import nnx; spyx.nn.RCuBaLIF; print(jax.devices())'
CHECK_ENV=(JAX_PLATFORMS=cpu)

install_packages() {
    log "installing envs/spyx/requirements.lock (spyx, CPU jax, flax, optax; hash-checked)"
    "${PIP[@]}" install --quiet --require-hashes --no-deps -r "$HERE/requirements.lock"
    "${PIP[@]}" check >&2 || die "pip check failed: requirements.lock is not a consistent set"
}

# shellcheck source=../lib/build_venv.sh
source "$HERE/../lib/build_venv.sh"
build_venv
