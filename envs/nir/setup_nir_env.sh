#!/usr/bin/env bash
# Create the NIR cross-check venv (Norse 1.1.0 + nirtorch 2.6 + CPU torch 2.13.0 on Python 3.11)
# in which neurokws.deploy.nir_norse runs our exported NIR graph through Norse's importer
# (tests/test_deploy_nir_crosscheck.py, benchmarks/nir_crosscheck.py). See README.md here.
#
#   bash envs/nir/setup_nir_env.sh [DEST]        # DEST defaults to .venv-nir
#
# Idempotent and atomic (envs/lib/build_venv.sh). PYTHON_NIR overrides the interpreter.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME=nir
DEST="${1:-.venv-nir}"
PYTHON="${PYTHON_NIR:-python3.11}"
# The hashed locks (`make lock` makes them from the requirements*.txt beside them).
LOCKS=("$HERE/requirements.lock" "$HERE/requirements.txt"
       "$HERE/requirements-nodeps.lock" "$HERE/requirements-nodeps.txt")
RECIPE_FILES=("$0" "$HERE/requirements.txt" "$HERE/requirements.lock"
              "$HERE/requirements-nodeps.txt" "$HERE/requirements-nodeps.lock")
CHECK='import h5py, nir, nirtorch, torch; from norse.torch import from_nir; print(torch.__version__)'
CHECK_ENV=()
CHECK_GREP="+cpu"      # refuse a multi-GB CUDA torch

install_packages() {
    log "installing envs/nir/requirements.lock (CPU torch 2.13.0, nir, nirtorch; hash-checked)"
    "${PIP[@]}" install --quiet --require-hashes --no-deps -r "$HERE/requirements.lock"
    # --no-deps: norse's torchvision requirement is unused by its NIR import. Its sdist is built
    # with the lock's setuptools and setuptools-scm (--no-build-isolation): pip does not
    # hash-check the build requirements it fetches into an isolated build environment
    # (https://github.com/pypa/pip/issues/11974).
    log "installing norse (envs/nir/requirements-nodeps.lock; --no-deps --no-build-isolation)"
    "${PIP[@]}" install --quiet --require-hashes --no-deps --no-build-isolation \
        -r "$HERE/requirements-nodeps.lock"
}

# shellcheck source=../lib/build_venv.sh
source "$HERE/../lib/build_venv.sh"
build_venv
