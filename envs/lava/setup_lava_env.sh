#!/usr/bin/env bash
# Create the Lava venv (lava-nc 0.10.0 + lava-dl 0.6.0 on Python 3.11, CPU torch 2.13.0) used
# to run Lava's Loihi2SimCfg fixed-point simulation beside the main .venv. See README.md here.
#
#   bash envs/lava/setup_lava_env.sh [DEST]        # DEST defaults to .venv-lava
#
# Idempotent: a stamp file records a hash of this recipe; a complete, current venv is left
# alone. The venv is built in DEST.partial and renamed onto DEST only after the import check
# passes, so a failed or interrupted run never leaves a half-built DEST.
# Environment: PYTHON_LAVA (interpreter, default python3.11), PIP_ARGS (extra pip options).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-.venv-lava}"
PYTHON="${PYTHON_LAVA:-python3.11}"
STAMP_NAME=".neurokws-lava-stamp"
LAVA_PINS=(lava-nc==0.10.0 lava-dl==0.6.0)
CHECK='from lava.lib.dl import netx; from lava.magma.core.run_configs import Loihi2SimCfg'

die() { echo "setup_lava_env: ERROR: $*" >&2; exit 1; }
log() { echo "setup_lava_env: $*" >&2; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON_LAVA to a Python 3.11)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$PYTHON is not Python 3.11 (set PYTHON_LAVA); the recipe is checked on 3.11 only"

mkdir -p "$(dirname "$DEST")"
DEST="$(cd "$(dirname "$DEST")" && pwd)/$(basename "$DEST")"
RECIPE="$(cat "$0" "$HERE/requirements.txt" "$HERE/fixups.py" | sha256sum | cut -d' ' -f1)"

# One builder at a time (make -j, two shells); the others wait and then find the stamp.
LOCK="${TMPDIR:-/tmp}/neurokws-lava-$(echo "$DEST" | sha256sum | cut -c1-16).lock"
exec 9>"$LOCK"
flock 9

if [[ -f "$DEST/$STAMP_NAME" && "$(cat "$DEST/$STAMP_NAME")" == "$RECIPE" ]]; then
    touch "$DEST/$STAMP_NAME"      # newer than the recipe files, for make
    log "$DEST is up to date"
    exit 0
fi

START=$(date +%s)
PARTIAL="$DEST.partial"
rm -rf "$PARTIAL"
trap 'rm -rf "$PARTIAL"' EXIT

log "creating $PARTIAL with $("$PYTHON" --version 2>&1)"
"$PYTHON" -m venv "$PARTIAL"
PIP=("$PARTIAL/bin/python" -m pip --disable-pip-version-check ${PIP_ARGS:-})
"${PIP[@]}" install --quiet --upgrade pip
log "installing runtime dependencies (envs/lava/requirements.txt)"
"${PIP[@]}" install --quiet -r "$HERE/requirements.txt"
# lava declares Python <3.11, numpy <2 and torch 2.3 / torchvision; its deps are installed above.
log "installing ${LAVA_PINS[*]} (--no-deps --ignore-requires-python)"
"${PIP[@]}" install --quiet --no-deps --ignore-requires-python "${LAVA_PINS[@]}"
"$PARTIAL/bin/python" "$HERE/fixups.py"

log "checking: $CHECK"
if ! "$PARTIAL/bin/python" -c "$CHECK" >"$PARTIAL/import-check.log" 2>&1; then
    cat "$PARTIAL/import-check.log" >&2
    die "the Lava import check failed (log above); nothing was installed at $DEST"
fi

# Console scripts carry the build path in their shebangs; point them at DEST, then move.
grep -rlI --null -F "$PARTIAL" "$PARTIAL/bin" | xargs -0 -r sed -i "s#$PARTIAL#$DEST#g"
echo "$RECIPE" >"$PARTIAL/$STAMP_NAME"
rm -rf "$DEST"
mv "$PARTIAL" "$DEST"
trap - EXIT
log "done in $(( $(date +%s) - START )) s: $DEST"
