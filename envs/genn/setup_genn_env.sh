#!/usr/bin/env bash
# Create the GeNN venv (GeNN 5.2.0 / pygenn + mlGeNN 2.3.1, built from source, on Python 3.11,
# with neurokws installed editable) for the mlGeNN training backend. See README.md here.
#
#   GENN_SRC=/path/to/genn ML_GENN_SRC=/path/to/ml_genn bash envs/genn/setup_genn_env.sh [DEST]
#
# DEST defaults to .venv-genn. GENN_SRC: a checkout of github.com/genn-team/genn at tag 5.2.0;
# ML_GENN_SRC: a checkout of github.com/genn-team/ml_genn at tag ml_genn_2_3_1. GeNN always
# gets its single-threaded CPU backend, and its CUDA backend too when CUDA_PATH points at an
# existing CUDA toolkit (GeNN's setup.py decides). Writes DEST/genn-backends.json (the backends
# built, the pygenn and ml_genn versions, the source commits) for the workflow.
#
# Idempotent and atomic (envs/lib/build_venv.sh); the recipe hash includes the two sources'
# git commits (and any uncommitted changes to tracked files) and CUDA_PATH, so another GeNN
# source or toolkit rebuilds. PYTHON_GENN overrides the interpreter; GENN_ANY_VERSION=1
# accepts sources at other versions than 5.2.0 / 2.3.1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NAME=genn
DEST="${1:-.venv-genn}"
PYTHON="${PYTHON_GENN:-python3.11}"
GENN_VERSION=5.2.0
ML_GENN_VERSION=2.3.1
GENN_TAG=5.2.0
ML_GENN_TAG=ml_genn_2_3_1
BACKENDS_JSON=genn-backends.json

# shellcheck source=../lib/build_venv.sh
source "$HERE/../lib/build_venv.sh"

clone_hint() {
    echo "get it with: git clone --branch $GENN_TAG https://github.com/genn-team/genn" \
         "&& git clone --branch $ML_GENN_TAG https://github.com/genn-team/ml_genn," \
         "then GENN_SRC=\$PWD/genn ML_GENN_SRC=\$PWD/ml_genn bash envs/genn/setup_genn_env.sh"
}

# --- The two source checkouts ------------------------------------------------------------
[[ -n "${GENN_SRC:-}" ]] || die "GENN_SRC is not set: it must name a GeNN checkout" \
    "(genn-team/genn, tag $GENN_TAG); $(clone_hint)"
[[ -n "${ML_GENN_SRC:-}" ]] || die "ML_GENN_SRC is not set: it must name an mlGeNN checkout" \
    "(genn-team/ml_genn, tag $ML_GENN_TAG); $(clone_hint)"
[[ -d "$GENN_SRC" ]] || die "GENN_SRC=$GENN_SRC is not a directory; $(clone_hint)"
[[ -d "$ML_GENN_SRC" ]] || die "ML_GENN_SRC=$ML_GENN_SRC is not a directory; $(clone_hint)"
GENN_SRC="$(cd "$GENN_SRC" && pwd -P)"
ML_GENN_SRC="$(cd "$ML_GENN_SRC" && pwd -P)"

[[ -f "$GENN_SRC/setup.py" && -f "$GENN_SRC/version.txt" && -f "$GENN_SRC/pygenn/genn_model.py" ]] \
    || die "GENN_SRC=$GENN_SRC is not a GeNN source tree (no setup.py, version.txt and" \
           "pygenn/genn_model.py there); it must be a checkout of genn-team/genn, tag $GENN_TAG"
genn_found="$(tr -d '[:space:]' <"$GENN_SRC/version.txt")"
# ML_GENN_SRC is the repository root (holding ml_genn/setup.py); its inner ml_genn/ is accepted.
if [[ -f "$ML_GENN_SRC/ml_genn/setup.py" && -d "$ML_GENN_SRC/ml_genn/ml_genn" ]]; then
    ML_GENN_PKG="$ML_GENN_SRC/ml_genn"
elif [[ -f "$ML_GENN_SRC/setup.py" && -d "$ML_GENN_SRC/ml_genn" ]] \
        && grep -q 'name="ml_genn"' "$ML_GENN_SRC/setup.py"; then
    ML_GENN_PKG="$ML_GENN_SRC"
else
    die "ML_GENN_SRC=$ML_GENN_SRC is not an mlGeNN source tree (no ml_genn/setup.py there);" \
        "it must be a checkout of genn-team/ml_genn, tag $ML_GENN_TAG"
fi
ml_genn_found="$(sed -n 's/.*version="\([^"]*\)".*/\1/p' "$ML_GENN_PKG/setup.py" | head -n1)"
if [[ "${GENN_ANY_VERSION:-0}" != 1 ]]; then
    [[ "$genn_found" == "$GENN_VERSION" ]] || die "GENN_SRC=$GENN_SRC is GeNN $genn_found, not" \
        "$GENN_VERSION: check out tag $GENN_TAG (git -C $GENN_SRC checkout $GENN_TAG), or set" \
        "GENN_ANY_VERSION=1 to build it anyway"
    [[ "$ml_genn_found" == "$ML_GENN_VERSION" ]] || die "ML_GENN_SRC=$ML_GENN_SRC is mlGeNN" \
        "${ml_genn_found:-?}, not $ML_GENN_VERSION: check out tag $ML_GENN_TAG" \
        "(git -C $ML_GENN_SRC checkout $ML_GENN_TAG), or set GENN_ANY_VERSION=1 to build it anyway"
fi

# What identifies a source: its git commit and tag, plus a hash of uncommitted changes to
# tracked files (the build's own outputs are untracked); version and setup.py otherwise.
source_id() {
    local dir="$1" top
    top="$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null || true)"
    if [[ -n "$top" && "$(cd "$top" && pwd -P)" == "$(cd "$dir" && pwd -P)" ]]; then
        echo "git $(git -C "$dir" rev-parse HEAD)" \
             "$(git -C "$dir" describe --tags --always 2>/dev/null || true)" \
             "changes:$({ git -C "$dir" diff HEAD 2>/dev/null || true; } | sha256sum | cut -c1-16)"
    else
        echo "not a git checkout; setup.py:$(sha256sum <"$2" | cut -c1-16)"
    fi
}
GENN_ID="$(source_id "$GENN_SRC" "$GENN_SRC/setup.py") version $genn_found"
ML_GENN_ID="$(source_id "$(dirname "$ML_GENN_PKG")" "$ML_GENN_PKG/setup.py") version $ml_genn_found"

# CUDA: GeNN's setup.py builds the CUDA backend iff CUDA_PATH is set and exists.
if [[ -n "${CUDA_PATH:-}" && -e "$CUDA_PATH" ]]; then
    WANT_CUDA=1
    cuda_version="$({ cat "$CUDA_PATH/version.json" 2>/dev/null || true; } | sha256sum | cut -c1-16)"
    nvcc_version="$({ "$CUDA_PATH/bin/nvcc" --version 2>/dev/null || true; } | tail -n1)"
    CUDA_ID="cuda $CUDA_PATH version.json:$cuda_version nvcc:$nvcc_version"
else
    WANT_CUDA=0
    CUDA_ID="no cuda (CUDA_PATH=${CUDA_PATH:-unset})"
fi

# The recipe: this script, the pins, neurokws' dependencies, and the two sources + CUDA.
SOURCES_FILE="$(mktemp "${TMPDIR:-/tmp}/neurokws-genn-sources.XXXXXX")"
trap 'rm -f "$SOURCES_FILE"' EXIT
printf 'genn: %s\nml_genn: %s\n%s\n' "$GENN_ID" "$ML_GENN_ID" "$CUDA_ID" >"$SOURCES_FILE"
RECIPE_FILES=("$0" "$HERE/requirements.txt" "$HERE/requirements.lock" "$ROOT/pyproject.toml"
              "$SOURCES_FILE")
LOCKS=("$HERE/requirements.lock" "$HERE/requirements.txt")   # `make lock` makes the lock

# The check: everything imports, and genn-backends.json matches this pygenn.
CHECK='import json, pathlib, sys
import pygenn, ml_genn, neurokws
from pygenn.genn_model import backend_modules
from neurokws.backends import genn_env
info = json.loads((pathlib.Path(sys.prefix) / "genn-backends.json").read_text())
assert "single_threaded_cpu" in backend_modules, list(backend_modules)
assert set(backend_modules) <= set(info["backends"]), (list(backend_modules), info)
assert genn_env.available()
print(json.dumps(info))'
CHECK_ENV=()
if [[ "$WANT_CUDA" == 1 ]]; then
    CHECK_GREP='"backends": ["cuda",'    # CUDA_PATH was given: the CUDA backend must be built
else
    CHECK_GREP='"single_threaded_cpu"'
fi

# pip's output for one step goes to a log in the venv; on failure its tail is shown.
pip_logged() {
    local what="$1" log="$PARTIAL/$2"; shift 2
    if ! "${PIP[@]}" install "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        cp "$log" "${TMPDIR:-/tmp}/setup_genn_env-$2" 2>/dev/null || true
        die "$what failed (last lines above; full log in ${TMPDIR:-/tmp}/setup_genn_env-$2)"
    fi
}

install_packages() {
    log "installing envs/genn/requirements.lock (setuptools, wheel, pybind11, numpy, psutil;" \
        "hash-checked)"
    "${PIP[@]}" install --quiet --require-hashes --no-deps -r "$HERE/requirements.lock"

    if [[ "$WANT_CUDA" == 1 ]]; then
        log "building GeNN $genn_found from $GENN_SRC: CPU + CUDA backends (CUDA_PATH=$CUDA_PATH)"
    else
        log "building GeNN $genn_found from $GENN_SRC: CPU backend only (CUDA_PATH unset or" \
            "missing); about 6 min on 2 cores"
    fi
    pip_logged "building GeNN" genn-build.log \
        --no-build-isolation -c "$HERE/requirements.txt" "$GENN_SRC"

    log "installing mlGeNN $ml_genn_found from $ML_GENN_PKG"
    pip_logged "installing mlGeNN" ml_genn-install.log \
        --no-build-isolation -c "$HERE/requirements.txt" "$ML_GENN_PKG"

    log "installing neurokws (editable, with [dev]) from $ROOT"
    pip_logged "installing neurokws" neurokws-install.log \
        --no-build-isolation -c "$HERE/requirements.txt" -e "$ROOT[dev]"
    "${PIP[@]}" check >&2 || die "pip check failed: the GeNN venv is not a consistent set"

    log "writing $BACKENDS_JSON"
    GENN_ID="$GENN_ID" ML_GENN_ID="$ML_GENN_ID" CUDA_ID="$CUDA_ID" \
        "$PARTIAL/bin/python" - "$PARTIAL/$BACKENDS_JSON" <<'EOF'
"""Record the GeNN backends this pygenn was built with, for the workflow's GPU decision."""
import importlib.util
import json
import os
import sys
from importlib.metadata import version

from pygenn.genn_model import backend_modules

# Built = the backend extension modules present (GeNN's order of preference). Importable =
# those pygenn loaded here: a CUDA build on a machine without the CUDA driver imports no cuda.
built = [b for b in ("cuda", "hip", "single_threaded_cpu")
         if importlib.util.find_spec(f"pygenn.{b}_backend") is not None]
info = {"backends": built,
        "importable_here": list(backend_modules),
        "pygenn": version("pygenn"),
        "ml_genn": version("ml_genn"),
        "genn_source": os.environ["GENN_ID"],
        "ml_genn_source": os.environ["ML_GENN_ID"],
        "cuda": os.environ["CUDA_ID"]}
with open(sys.argv[1], "w") as f:
    json.dump(info, f, indent=1)
    f.write("\n")
EOF
}

# A subshell, so that build_venv's own EXIT trap does not replace the one removing SOURCES_FILE.
( build_venv )
