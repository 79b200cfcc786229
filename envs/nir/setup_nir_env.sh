#!/usr/bin/env bash
# Create the NIR cross-check venv (Norse 1.1.0 + nirtorch 2.6 + CPU torch 2.13.0 on Python 3.11)
# in which neurokws.deploy.nir_norse runs our exported NIR graph through Norse's importer
# (tests/test_deploy_nir_crosscheck.py, benchmarks/nir_crosscheck.py). See README.md here.
#
#   bash envs/nir/setup_nir_env.sh [DEST]        # DEST defaults to .venv-nir
#
# Idempotent: a stamp file records a hash of this recipe; a complete, current venv is left
# alone. The venv is built in DEST.partial and renamed onto DEST only after the import check
# passes, so a failed or interrupted run never leaves a half-built DEST.
# Environment: PYTHON_NIR (interpreter, default python3.11), PIP_ARGS (extra pip options).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-.venv-nir}"
PYTHON="${PYTHON_NIR:-python3.11}"
STAMP_NAME=".neurokws-nir-stamp"
NORSE_PIN="norse==1.1.0"
CHECK='import h5py, nir, nirtorch, torch; from norse.torch import from_nir; print(torch.__version__)'

die() { echo "setup_nir_env: ERROR: $*" >&2; exit 1; }
log() { echo "setup_nir_env: $*" >&2; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON_NIR to a Python 3.11)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "$PYTHON is not Python 3.11 (set PYTHON_NIR); the recipe is checked on 3.11 only"

mkdir -p "$(dirname "$DEST")"
DEST="$(cd "$(dirname "$DEST")" && pwd)/$(basename "$DEST")"
RECIPE="$(cat "$0" "$HERE/requirements.txt" | sha256sum | cut -d' ' -f1)"

# One builder at a time (make -j, two shells); the others wait and then find the stamp.
LOCK="${TMPDIR:-/tmp}/neurokws-nir-$(echo "$DEST" | sha256sum | cut -c1-16).lock"
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
log "installing envs/nir/requirements.txt (CPU torch 2.13.0, nir, nirtorch; pinned)"
"${PIP[@]}" install --quiet -r "$HERE/requirements.txt"
log "installing $NORSE_PIN (--no-deps: its torchvision requirement is not needed for NIR import)"
"${PIP[@]}" install --quiet --no-deps "$NORSE_PIN"

log "checking: $CHECK"
if ! "$PARTIAL/bin/python" -c "$CHECK" >"$PARTIAL/import-check.log" 2>&1; then
    cat "$PARTIAL/import-check.log" >&2
    die "the Norse import check failed (log above); nothing was installed at $DEST"
fi
grep -q '+cpu' "$PARTIAL/import-check.log" \
    || die "torch is not the CPU build ($(cat "$PARTIAL/import-check.log")); refusing a CUDA torch"

# Console scripts carry the build path in their shebangs; point them at DEST, then move.
grep -rlI --null -F "$PARTIAL" "$PARTIAL/bin" | xargs -0 -r sed -i "s#$PARTIAL#$DEST#g"
echo "$RECIPE" >"$PARTIAL/$STAMP_NAME"
rm -rf "$DEST"
mv "$PARTIAL" "$DEST"
trap - EXIT
log "done in $(( $(date +%s) - START )) s: $DEST"
