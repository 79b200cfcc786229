# Shared by envs/*/setup_*_env.sh and envs/lib/update_locks.sh: build a side venv once per
# recipe, atomically.
#
# The caller sets NAME (lava, nir, spyx, genn, lock), DEST, PYTHON, CHECK (a Python snippet that must
# run in the new venv), RECIPE_FILES (array: files whose content defines the recipe), LOCKS
# (array of pairs: a hashed lock, the file it was made from; may be empty), and optionally
# CHECK_ENV (array of VAR=value for the check) and CHECK_GREP (a string the check's output
# must contain); it defines install_packages, which installs with "${PIP[@]}" into
# "$PARTIAL", and then calls build_venv.
#
# Each lock is checked against its input (check_lock.py here) before anything is built: a
# stale lock stops the build with the fix (`make lock`), and leaves DEST as it was.
#
# Idempotent: DEST/.neurokws-NAME-stamp holds a hash of the recipe; a current venv is left
# alone. The venv is built in DEST.partial and renamed onto DEST only after the check
# passes, so a failed or interrupted run never leaves a half-built DEST. One builder at a
# time (flock). PIP_ARGS adds pip options.

die() { echo "setup_${NAME}_env: ERROR: $*" >&2; exit 1; }
log() { echo "setup_${NAME}_env: $*" >&2; }

build_venv() {
    local var_hint="PYTHON_${NAME^^}"
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set $var_hint to a Python 3.11)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
        || die "$PYTHON is not Python 3.11 (set $var_hint); the recipe is checked on 3.11 only"
    local i
    for (( i = 0; i < ${#LOCKS[@]}; i += 2 )); do
        "$PYTHON" "$(dirname "${BASH_SOURCE[0]}")/check_lock.py" check "${LOCKS[i]}" "${LOCKS[i+1]}" \
            || die "${LOCKS[i]} is stale (above); nothing was built or changed at $DEST"
    done

    mkdir -p "$(dirname "$DEST")"
    DEST="$(cd "$(dirname "$DEST")" && pwd)/$(basename "$DEST")"
    local stamp_name=".neurokws-${NAME}-stamp"
    local recipe
    recipe="$(cat "${RECIPE_FILES[@]}" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"

    # Others (make -j, two shells) wait here and then find the stamp.
    exec 9>"${TMPDIR:-/tmp}/neurokws-${NAME}-$(echo "$DEST" | sha256sum | cut -c1-16).lock"
    flock 9
    if [[ -f "$DEST/$stamp_name" && "$(cat "$DEST/$stamp_name")" == "$recipe" ]]; then
        touch "$DEST/$stamp_name"      # newer than the recipe files, for make
        log "$DEST is up to date"
        return 0
    fi

    local start
    start=$(date +%s)
    PARTIAL="$DEST.partial"
    rm -rf "$PARTIAL"
    trap 'rm -rf "$PARTIAL"' EXIT
    log "creating $PARTIAL with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$PARTIAL"
    # shellcheck disable=SC2206  # PIP_ARGS is a word list on purpose
    PIP=("$PARTIAL/bin/python" -m pip --disable-pip-version-check ${PIP_ARGS:-})
    "${PIP[@]}" install --quiet --upgrade pip
    install_packages

    log "checking: $CHECK"
    if ! env "${CHECK_ENV[@]}" "$PARTIAL/bin/python" -c "$CHECK" >"$PARTIAL/check.log" 2>&1; then
        cat "$PARTIAL/check.log" >&2
        die "the $NAME import check failed (log above); nothing was installed at $DEST"
    fi
    if [[ -n "${CHECK_GREP:-}" ]] && ! grep -qF "$CHECK_GREP" "$PARTIAL/check.log"; then
        die "check output lacks '$CHECK_GREP': $(cat "$PARTIAL/check.log")"
    fi

    # Console scripts carry the build path in their shebangs; point them at DEST, then move.
    grep -rlI --null -F "$PARTIAL" "$PARTIAL/bin" | xargs -0 -r sed -i "s#$PARTIAL#$DEST#g"
    echo "$recipe" >"$PARTIAL/$stamp_name"
    rm -rf "$DEST"
    mv "$PARTIAL" "$DEST"
    trap - EXIT
    log "done in $(( $(date +%s) - start )) s: $DEST"
}
