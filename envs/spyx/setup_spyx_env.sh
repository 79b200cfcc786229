#!/usr/bin/env bash
# Create the Spyx venv (spyx 1.0.0 + CPU JAX 0.10.2 on Python 3.11, numpy 2) used by the
# training-cost benchmark's BPTT baseline (neurokws.reports.cost_spyx). See README.md here.
#
#   bash envs/spyx/setup_spyx_env.sh [DEST]        # DEST defaults to .venv-spyx
#
# Idempotent: a stamp file records a hash of this recipe; a complete, current venv is left
# alone. The venv is built in DEST.partial and renamed onto DEST only after the import check
# passes, so a failed or interrupted run never leaves a half-built DEST.
# Environment: PYTHON_SPYX (interpreter, default python3.11), PIP_ARGS (extra pip options).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-.venv-spyx}"
PYTHON="${PYTHON_SPYX:-python3.11}"
STAMP_NAME=".neurokws-spyx-stamp"
CHECK='import jax, optax, spyx; from flax import nnx; spyx.nn.RCuBaLIF; print(jax.devices())'

die() { echo "setup_spyx_env: ERROR: $*" >&2; exit 1; }
log() { echo "setup_spyx_env: $*" >&2; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON_SPYX to a Python 3.11)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$PYTHON is not Python 3.11 (set PYTHON_SPYX); the recipe is checked on 3.11 only"

mkdir -p "$(dirname "$DEST")"
DEST="$(cd "$(dirname "$DEST")" && pwd)/$(basename "$DEST")"
RECIPE="$(cat "$0" "$HERE/requirements.txt" | sha256sum | cut -d' ' -f1)"

# One builder at a time (make -j, two shells); the others wait and then find the stamp.
LOCK="${TMPDIR:-/tmp}/neurokws-spyx-$(echo "$DEST" | sha256sum | cut -c1-16).lock"
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
log "installing envs/spyx/requirements.txt (spyx, CPU jax, flax, optax; pinned)"
"${PIP[@]}" install --quiet --no-deps -r "$HERE/requirements.txt"
"${PIP[@]}" check >&2 || die "pip check failed: requirements.txt is not a consistent set"

log "checking: $CHECK"
if ! JAX_PLATFORMS=cpu "$PARTIAL/bin/python" -c "$CHECK" >"$PARTIAL/import-check.log" 2>&1; then
    cat "$PARTIAL/import-check.log" >&2
    die "the Spyx import check failed (log above); nothing was installed at $DEST"
fi

# Console scripts carry the build path in their shebangs; point them at DEST, then move.
grep -rlI --null -F "$PARTIAL" "$PARTIAL/bin" | xargs -0 -r sed -i "s#$PARTIAL#$DEST#g"
echo "$RECIPE" >"$PARTIAL/$STAMP_NAME"
rm -rf "$DEST"
mv "$PARTIAL" "$DEST"
trap - EXIT
log "done in $(( $(date +%s) - START )) s: $DEST"
