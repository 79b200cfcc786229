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
RECIPE_FILES=("$0" "$HERE/requirements.txt")
CHECK='import h5py, nir, nirtorch, torch; from norse.torch import from_nir; print(torch.__version__)'
CHECK_ENV=()
CHECK_GREP="+cpu"      # refuse a multi-GB CUDA torch
NORSE_PIN="norse==1.1.0"

install_packages() {
    log "installing envs/nir/requirements.txt (CPU torch 2.13.0, nir, nirtorch; pinned)"
    "${PIP[@]}" install --quiet -r "$HERE/requirements.txt"
    log "installing $NORSE_PIN (--no-deps: its torchvision requirement is unused by NIR import)"
    "${PIP[@]}" install --quiet --no-deps "$NORSE_PIN"
}

# shellcheck source=../lib/build_venv.sh
source "$HERE/../lib/build_venv.sh"
build_venv
