#!/usr/bin/env bash
# `make lock`: regenerate every hashed lock from the requirements it is made of, with
# pip-compile (pip-tools, https://pip-tools.readthedocs.io/en/stable/) on this machine's pip and
# its configuration (`pip config list`: find-links, extra indexes, constraints), for CPython 3.11
# on x86_64 Linux, so every hash is that of a file pip finds here:
#
#   requirements.lock                     <- pyproject.toml: [project] dependencies, extras
#                                            dev and gpu, and its editable build's requirements
#   requirements-cuda.lock                <- the same with the extra cuda (the CUDA 12 wheels:
#                                            machines with a GPU, Makefile)
#   envs/NAME/requirements.lock           <- envs/NAME/requirements.txt (each side venv)
#   envs/NAME/requirements-nodeps.lock    <- envs/NAME/requirements-nodeps.txt (lava, nir): the
#                                            packages installed with --no-deps, hashed as pip
#                                            downloads them (pip-compile would resolve their
#                                            declared dependencies, which conflict)
#   envs/lib/lock-tools.lock              <- envs/lib/lock-tools.txt (pip, pip-tools)
#
#   bash envs/lib/update_locks.sh [VENV]   # VENV, with pip-tools, defaults to .venv-lock
#
# pip-compile keeps the pins of the current lock that still satisfy its input (see "Updating
# requirements" in pip-tools' README); UPGRADE=1 resolves every lock anew to the newest
# releases. Each lock starts with envs/lib/check_lock.py's header (a sha256 of its input's
# requirements), which the installers check. The locks are made in a temporary folder and
# moved into place only when all of them are made: a failure changes none.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NAME=lock
DEST="${1:-$ROOT/.venv-lock}"
PYTHON="${PYTHON_LOCK:-python3.11}"
RECIPE_FILES=("$HERE/lock-tools.lock")
LOCKS=()    # not checked: after lock-tools.txt changes, the old tools make the new lock
CHECK='from piptools.scripts import compile'
CHECK_ENV=()
MAIN_EXTRAS=(dev gpu)

install_packages() {
    "${PIP[@]}" install --quiet --require-hashes --no-deps -r "$HERE/lock-tools.lock"
}

# shellcheck source=build_venv.sh
source "$HERE/build_venv.sh"
( build_venv )    # a subshell: build_venv's EXIT trap and lock stay inside it
DEST="$(cd "$DEST" && pwd)"

cd "$ROOT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/neurokws-lock.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
UPGRADE_ARGS=()
[[ "${UPGRADE:-0}" == 1 ]] && UPGRADE_ARGS=(--upgrade)
MADE=()    # repo-relative paths of the locks made in $WORK

# compile LOCK INPUT [PIP-COMPILE ARGS]: pip-compile INPUT into $WORK/LOCK, behind the header.
# SEED=FILE: start from that lock's pins instead of LOCK's own.
compile() {
    local lock="$1" input="$2" extras=() arg seed="${SEED:-$1}"
    shift 2
    for arg in "$@"; do [[ "$arg" == --extra=* ]] && extras+=("${arg#--extra=}"); done
    local out="$WORK/$lock"
    mkdir -p "$(dirname "$out")"
    [[ -f "$seed" ]] && cp "$seed" "$out.pip"     # its pins are kept unless --upgrade
    log "pip-compile $input -> $lock"
    CUSTOM_COMPILE_COMMAND="make lock" "$DEST/bin/pip-compile" --quiet --generate-hashes \
        --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
        "${UPGRADE_ARGS[@]}" "$@" --output-file "$out.pip" "$input"
    { "$PYTHON" "$HERE/check_lock.py" header "$input" "${extras[@]}"; cat "$out.pip"; } >"$out"
    rm "$out.pip"
    MADE+=("$lock")
}

# hash_nodeps LOCK INPUT: each pin of INPUT with the sha256 of the one file pip downloads for it.
hash_nodeps() {
    local lock="$1" input="$2" req dir
    local out="$WORK/$lock"
    mkdir -p "$(dirname "$out")"
    log "hashing $input -> $lock"
    "$PYTHON" "$HERE/check_lock.py" header "$input" >"$out"
    while read -r req; do
        dir="$(mktemp -d "$WORK/download.XXXXXX")"
        "$DEST/bin/pip" download --quiet --no-deps --ignore-requires-python --dest "$dir" "$req"
        printf '%s \\\n    --hash=sha256:%s\n    # via -r %s\n' \
            "$req" "$(sha256sum "$dir"/* | cut -d' ' -f1)" "$input" >>"$out"
    done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$input")
    MADE+=("$lock")
}

# The main venv's two locks pin the same versions (tests/test_envs.py): the one with the CUDA
# wheels first (from its own pins, or the other lock's where it is new), then the one
# without, from the first one's pins.
seed=requirements-cuda.lock
[[ -f "$seed" ]] || seed=requirements.lock
SEED="$seed" compile requirements-cuda.lock pyproject.toml "${MAIN_EXTRAS[@]/#/--extra=}" \
    --extra=cuda --build-deps-for=editable
SEED="$WORK/requirements-cuda.lock" compile requirements.lock pyproject.toml \
    "${MAIN_EXTRAS[@]/#/--extra=}" --build-deps-for=editable
for input in envs/*/requirements.txt; do
    compile "${input%.txt}.lock" "$input"
done
for input in envs/*/requirements-nodeps.txt; do
    hash_nodeps "${input%.txt}.lock" "$input"
done
compile envs/lib/lock-tools.lock envs/lib/lock-tools.txt

for lock in "${MADE[@]}"; do
    if cmp -s "$WORK/$lock" "$lock"; then
        log "$lock: unchanged"
    else
        mv "$WORK/$lock" "$lock"
        log "$lock: written"
    fi
done
