#!/usr/bin/env bash
# Create the Lava venv (lava-nc 0.10.0 + lava-dl 0.6.0 on Python 3.11, CPU torch 2.13.0) used
# to run Lava's Loihi2SimCfg fixed-point simulation beside the main .venv. See README.md here.
#
#   bash envs/lava/setup_lava_env.sh [DEST]        # DEST defaults to .venv-lava
#
# Idempotent and atomic (envs/lib/build_venv.sh). PYTHON_LAVA overrides the interpreter.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME=lava
DEST="${1:-.venv-lava}"
PYTHON="${PYTHON_LAVA:-python3.11}"
# The hashed locks (`make lock` makes them from the requirements*.txt beside them).
LOCKS=("$HERE/requirements.lock" "$HERE/requirements.txt"
       "$HERE/requirements-nodeps.lock" "$HERE/requirements-nodeps.txt")
RECIPE_FILES=("$0" "$HERE/requirements.txt" "$HERE/requirements.lock"
              "$HERE/requirements-nodeps.txt" "$HERE/requirements-nodeps.lock" "$HERE/fixups.py")
CHECK='from lava.lib.dl import netx; from lava.magma.core.run_configs import Loihi2SimCfg'
CHECK_ENV=()

install_packages() {
    log "installing runtime dependencies (envs/lava/requirements.lock, hash-checked)"
    "${PIP[@]}" install --quiet --require-hashes --no-deps -r "$HERE/requirements.lock"
    # lava declares Python <3.11, numpy <2 and torch 2.3 / torchvision; deps come from above.
    log "installing lava-nc, lava-dl (envs/lava/requirements-nodeps.lock; --ignore-requires-python)"
    "${PIP[@]}" install --quiet --require-hashes --no-deps --ignore-requires-python \
        -r "$HERE/requirements-nodeps.lock"
    "$PARTIAL/bin/python" "$HERE/fixups.py"
}

# shellcheck source=../lib/build_venv.sh
source "$HERE/../lib/build_venv.sh"
build_venv
