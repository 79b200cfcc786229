#!/usr/bin/env bash
# Real SLURM integration test: runs the neurokws workflow through profiles/slurm
# (snakemake --executor slurm) on a throw-away single-node SLURM cluster on this machine.
#
#   sudo bash tests/cluster/run_slurm_test.sh        # about 6 minutes; see README.md here
#
# 1. installs munge, slurmctld, slurmd, slurm-client, slurmdbd, mariadb-server (Debian) if
#    missing (they stay installed; no service is started by the install);
# 2. starts a private cluster in a temp dir: MariaDB data dir, slurm.conf (exported as
#    SLURM_CONF), state, logs and ports of its own, every daemon in the foreground as a
#    background job of this script, remembered by PID; munged on the default socket with a
#    fresh key (a munged already running there is used instead). /etc/slurm/slurm.conf
#    becomes a symlink to our slurm.conf while the test runs (see below); an existing
#    /etc/slurm/slurm.conf that is not ours stops the test;
#    The partition's MaxTime is the config's resources.max_runtime (2 minutes), with
#    EnforcePartLimits=ALL: sbatch refuses a job that asks for more (checked first);
# 3. runs the workflow on tests/cluster/config.yaml in a temp working directory (the
#    repository's results/ are never touched), wrapped in `timeout -k`. The config's
#    resources (max_runtime 2, segment_epochs 1, 3 epochs) make every cell's training a
#    chain of 3 jobs: rule train_segment for epochs 0-1 and 1-2, then rule train;
# 4. checks that every job ran as a SLURM job: each plugin log names a job id that sacct
#    (slurmdbd accounting) reports COMPLETED with exit code 0:0 in our partition, with the
#    rule's mem_mb, runtime and threads as its memory, time limit and CPUs, a time limit
#    within the partition's MaxTime and an elapsed time within its limit; every job of the
#    plan (a dry run first; all but local rules; plus the train_segment jobs, which the plan
#    only knows once `prepare`, a checkpoint, has run) has one, no SLURM job is unaccounted
#    for, every cell's chain (>= 2 train_segment jobs and train) covers its epochs in order,
#    one job after the other, the result tables exist and a second (dry) run has nothing to
#    do; then that a job over a limit is refused when it is planned: a second run with
#    resources.max_mem_mb far below what evaluate_float needs fails naming the rule, and
#    submits nothing; and that the chain's model.npz weights (w_in, w_rec, w_out) equal,
#    byte for byte, those of the same config trained locally in one job per cell (the config
#    without its resources limits, `--cores 2`);
# 5. cancels leftover jobs, stops the daemons by PID (trap: on failure too) and removes the
#    temp dir. Running it twice in a row works.
#
# Exit 0 = passed, 77 = skipped (not root / no apt-get), anything else = failed.
# Environment: NEUROKWS_SLURM_TIMEOUT (workflow limit, s, default 900),
# NEUROKWS_SLURM_REPORT (write a JSON summary there), NEUROKWS_SLURM_KEEP=1 (keep the temp
# dir), NEUROKWS_SLURM_PORT_BASE (default 16810: MariaDB +6, slurmctld +7, slurmd +8,
# slurmdbd +9), NEUROKWS_PYTHON (default .venv/bin/python).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${NEUROKWS_PYTHON:-$REPO/.venv/bin/python}"
CONFIG="$REPO/tests/cluster/config.yaml"
REFUSE_MEM_MB=100   # resources.max_mem_mb of the run that must be refused (jobs need > 250)
WORKFLOW_TIMEOUT="${NEUROKWS_SLURM_TIMEOUT:-900}"
STATUS_S=1   # seconds before the plugin's first status check of a job (section 3)
REPORT="${NEUROKWS_SLURM_REPORT:-}"
KEEP="${NEUROKWS_SLURM_KEEP:-0}"
PORT_BASE="${NEUROKWS_SLURM_PORT_BASE:-16810}"
DB_PORT=$((PORT_BASE + 6)) CTLD_PORT=$((PORT_BASE + 7)) SLURMD_PORT=$((PORT_BASE + 8))
DBD_PORT=$((PORT_BASE + 9))
CLUSTER=neurokws PARTITION=debug
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
BINARIES=(munged mungekey munge unmunge slurmctld slurmd slurmdbd sbatch sacct sacctmgr squeue
          sinfo scancel mariadbd mariadb mariadb-admin mariadb-install-db)

log() { echo "[slurm-test $(date +%T)] $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
missing_binaries() {
    local b
    for b in "${BINARIES[@]}"; do command -v "$b" >/dev/null 2>&1 || echo "$b"; done
}

# --- 0. can it run here? ------------------------------------------------------------------
[[ "$(id -u)" == 0 ]] || skip "needs root (installs Debian packages, runs SLURM daemons)"
[[ -x "$PY" ]] || die "$PY not found: run 'make test' (or create .venv) first"
"$PY" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null \
    || die "snakemake-executor-plugin-slurm missing from $PY (make test, or pip install -e .)"
# The partition's time limit (minutes) is the config's resources.max_runtime.
MAX_MIN="$("$PY" -c 'import sys, yaml
print((yaml.safe_load(open(sys.argv[1])).get("resources") or {}).get("max_runtime") or "")' \
    "$CONFIG")"
[[ "$MAX_MIN" =~ ^[1-9][0-9]*$ ]] \
    || die "$CONFIG has no resources.max_runtime (the test partition's MaxTime, minutes)"

# --- 1. packages --------------------------------------------------------------------------
install_packages() {
    # Keep maintainer scripts from starting system services: a policy-rc.d denying all
    # starts, only while installing and only if the machine has none of its own.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    local apt=(apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}") rc=0
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >"$1" 2>&1 \
        || { apt-get update -qq >>"$1" 2>&1 && DEBIAN_FRONTEND=noninteractive "${apt[@]}" \
             >>"$1" 2>&1; } || rc=$?
    ((own_policy)) && rm -f "$policy"
    return "$rc"
}
if [[ -n "$(missing_binaries)" ]]; then
    command -v apt-get >/dev/null 2>&1 \
        || skip "SLURM is not installed and there is no apt-get to install it"
    log "installing ${PACKAGES[*]}"
    install_packages /tmp/neurokws-slurm-apt.log \
        || die "apt-get install failed (see /tmp/neurokws-slurm-apt.log)"
    [[ -z "$(missing_binaries)" ]] || die "still missing after install: $(missing_binaries)"
    rm -f /tmp/neurokws-slurm-apt.log
fi

# Stale pid files left by a daemon that is gone break the next start (and package removal).
# Ours live in the temp dir; these are from elsewhere, removed only if their process is gone.
remove_stale_pidfiles() {
    local f
    for f in /run/slurmctld.pid /run/slurmd.pid /run/slurmdbd.pid; do
        if [[ -f "$f" ]] && ! kill -0 "$(cat "$f" 2>/dev/null || echo 0)" 2>/dev/null; then
            log "removing stale $f"; rm -f "$f"
        fi
    done
}
remove_stale_pidfiles
# The jobstep plugin (snakemake-executor-plugin-slurm-jobstep 0.6.1) drops SLURM_CONF from
# the environment of the `srun` it runs inside each job, so srun only finds the default
# /etc/slurm/slurm.conf: we link that to ours. Never overwrite a real one.
ETC_CONF=/etc/slurm/slurm.conf
if [[ -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == /tmp/neurokws-slurm.* ]]; then
    rm -f "$ETC_CONF"                 # left by an earlier run that was killed
elif [[ -e "$ETC_CONF" || -L "$ETC_CONF" ]]; then
    die "$ETC_CONF exists: this machine has a SLURM of its own; the test will not replace it"
fi
for port in "$DB_PORT" "$CTLD_PORT" "$SLURMD_PORT" "$DBD_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use (another test cluster running?); set NEUROKWS_SLURM_PORT_BASE"
    fi
done

# --- 2. private cluster -------------------------------------------------------------------
T="$(mktemp -d /tmp/neurokws-slurm.XXXXXX)"
chmod 755 "$T"                          # daemons check the dirs above their files
mkdir -p "$T"/{etc,log,run,state,spool,munge,db,work}
chmod 700 "$T/munge"
export SLURM_CONF="$T/etc/slurm.conf"   # every SLURM command and daemon reads this one
export NEUROKWS_SLURM_TEST="$T"         # tags every process of this run (and its jobs)
DAEMONS=() NAMES=()                     # PIDs we started, in start order
CTLD_PID="" SMK_PID=""

alive() {  # alive PID: running and not a zombie
    [[ -r "/proc/$1/stat" ]] && [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}
start() {  # start NAME COMMAND...: run a foreground daemon as a background job
    local name="$1"; shift
    "$@" >"$T/log/$name.out" 2>&1 &
    DAEMONS+=("$!") NAMES+=("$name")
    log "started $name (pid $!)"
}
wait_for() {  # wait_for WHAT SECONDS PID COMMAND...: poll COMMAND while daemon PID lives
    local what="$1" limit="$2" pid="$3" end=$((SECONDS + $2)); shift 3
    until timeout -k 2 10 "$@" >/dev/null 2>&1; do
        alive "$pid" || die "$what: daemon $pid exited (logs in $T/log)"
        ((SECONDS < end)) || die "$what: not ready after ${limit}s (logs in $T/log)"
        sleep 0.5
    done
}
stop_all() {  # stop our daemons by PID, newest first; SIGKILL after 15 s
    local i pid t
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        pid="${DAEMONS[i]}"
        alive "$pid" || { wait "$pid" 2>/dev/null || true; continue; }
        kill -TERM "$pid" 2>/dev/null || true
        for ((t = 0; t < 30; t++)); do alive "$pid" || break; sleep 0.5; done
        if alive "$pid"; then
            log "${NAMES[i]} ignored SIGTERM: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        log "stopped ${NAMES[i]} (pid $pid)"
    done
    DAEMONS=()
}
leftover_pids() {  # processes (job steps) of this run still alive, found by their tag
    local d
    for d in /proc/[0-9]*; do
        [[ "${d#/proc/}" == "$$" || "${d#/proc/}" == "$BASHPID" ]] && continue
        grep -qsz "^NEUROKWS_SLURM_TEST=$T\$" "$d/environ" 2>/dev/null && echo "${d#/proc/}"
    done
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # A workflow still running (interrupted): stop it first; timeout passes SIGTERM on.
    if [[ -n "$SMK_PID" ]] && alive "$SMK_PID"; then
        kill -TERM "$SMK_PID" 2>/dev/null || true
        wait "$SMK_PID" 2>/dev/null || true
    fi
    if ((${#DAEMONS[@]})); then
        # Cancel what is still queued or running, give the job steps a moment, then stop.
        if [[ -n "$CTLD_PID" ]] && alive "$CTLD_PID"; then
            timeout -k 2 10 scancel --quiet --user=root >/dev/null 2>&1 || true
            for ((t = 0; t < 20; t++)); do
                [[ -z "$(timeout -k 2 5 squeue -h -t active 2>/dev/null)" ]] && break
                sleep 0.5
            done
        fi
        stop_all
        local p
        for p in $(leftover_pids); do
            log "killing leftover job process $p"; kill -KILL "$p" 2>/dev/null || true
        done
    fi
    remove_stale_pidfiles
    [[ "$(readlink "$ETC_CONF" 2>/dev/null)" == "$SLURM_CONF" ]] && rm -f "$ETC_CONF"
    if ((rc != 0)) && [[ -d "$T/log" ]]; then
        for f in "$T"/log/*.log; do log "--- tail of $f"; tail -n 15 "$f" >&2 || true; done
    fi
    if [[ "$KEEP" == 1 ]]; then log "kept $T"; else rm -rf "$T"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HOST="$(hostname -s)"
NCPU="$(nproc)"
AVAIL_MB=$(($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) / 1024))
REAL_MB=$((AVAIL_MB * 3 / 4))           # RealMemory below free memory, or the node drains
DEF_MEM=$((REAL_MB / NCPU < 2000 ? REAL_MB / NCPU : 2000))
DB_PASS="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# munge: SLURM 22.05's clients use the default socket whatever AuthInfo says, so use a
# munged already serving it, else start one there with a fresh key of our own.
if timeout 10 bash -c 'munge -n | unmunge' >/dev/null 2>&1; then
    log "using the munged already running"
else
    mkdir -p /run/munge && chmod 755 /run/munge
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock   # left by a dead munged
    mungekey --create --keyfile="$T/munge/munge.key" 2>/dev/null
    start munged munged -F --force --key-file="$T/munge/munge.key" \
        --pid-file="$T/run/munged.pid" --log-file="$T/log/munged.log" --seed-file="$T/munge/seed"
    wait_for munged 20 "${DAEMONS[-1]}" bash -c 'munge -n | unmunge'
fi

# MariaDB for slurmdbd: own data dir, TCP on 127.0.0.1 only.
mariadb-install-db --no-defaults --user=root --datadir="$T/db" --skip-test-db \
    --auth-root-authentication-method=socket >"$T/log/mariadb-install.log" 2>&1 \
    || die "mariadb-install-db failed (see $T/log/mariadb-install.log)"
start mariadbd mariadbd --no-defaults --user=root --datadir="$T/db" --socket="$T/run/db.sock" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$T/run/mariadbd.pid" \
    --log-error="$T/log/mariadbd.log" --innodb-buffer-pool-size=64M
wait_for mariadbd 60 "${DAEMONS[-1]}" mariadb-admin --no-defaults --socket="$T/run/db.sock" ping
mariadb --no-defaults --socket="$T/run/db.sock" -u root -e "
    CREATE USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
    CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

cat >"$T/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=$HOST
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$T/run/slurmdbd.pid
LogFile=$T/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
chmod 600 "$T/etc/slurmdbd.conf"        # slurmdbd refuses a readable one

cat >"$SLURM_CONF" <<EOF
# Written by tests/cluster/run_slurm_test.sh for a throw-away single-node cluster.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM
MinJobAge=300
ReturnToService=2
MailProg=/bin/true
MpiDefault=none
# A job asking for more than the partition's MaxTime is refused at sbatch (not left pending).
EnforcePartLimits=ALL
# sacct's Comment: the plugin's rule_<rule>_wildcards_<values> of each job.
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$REAL_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=$MAX_MIN State=UP
EOF
mkdir -p /etc/slurm && ln -s "$SLURM_CONF" "$ETC_CONF"

# slurmdbd before slurmctld; the cluster must exist in the database when slurmctld registers.
start slurmdbd slurmdbd -D
wait_for slurmdbd 60 "${DAEMONS[-1]}" sacctmgr -n list cluster
sacctmgr -i add cluster "$CLUSTER" >/dev/null
start slurmctld slurmctld -D -i
CTLD_PID="${DAEMONS[-1]}"
wait_for slurmctld 60 "$CTLD_PID" scontrol ping
start slurmd slurmd -D -N "$HOST"
wait_for "node idle" 60 "${DAEMONS[-1]}" bash -c "sinfo -h -N -o %t | grep -qx idle"
log "cluster up: $NCPU CPUs, ${REAL_MB} MB, partition $PARTITION (MaxTime $MAX_MIN min), $T"
# The partition's limit is in force: its MaxTime, and sbatch refusing a job over it.
part_max="$(scontrol -o show partition "$PARTITION" | grep -o 'MaxTime=[^ ]*')"
[[ "$part_max" == "$(printf 'MaxTime=%02d:%02d:00' $((MAX_MIN / 60)) $((MAX_MIN % 60)))" ]] \
    || die "partition $PARTITION: $part_max, expected $MAX_MIN minutes"
sbatch --test-only -p "$PARTITION" -t "$MAX_MIN" --wrap true >/dev/null 2>&1 \
    || die "sbatch --test-only -t $MAX_MIN (the partition's MaxTime) was refused"
if over="$(sbatch --test-only -p "$PARTITION" -t $((MAX_MIN + 1)) --wrap true 2>&1)"; then
    die "sbatch --test-only -t $((MAX_MIN + 1)) was accepted by a partition with MaxTime $MAX_MIN"
fi
log "partition $PARTITION: $part_max; sbatch -t $((MAX_MIN + 1)) refused: ${over##*error: }"

# --- 3. the workflow through profiles/slurm --------------------------------------------------
WORK="$T/work"
# Rules that declare no runtime get profiles/slurm's default-resources (30 min), more than
# this partition allows: as the profile says for such partitions, lower it on the command
# line (which replaces the profile's whole mapping, so mem_mb is repeated).
SMK=("$PY" -m snakemake --snakefile "$REPO/Snakefile" --directory "$WORK"
     --configfile "$CONFIG" --profile "$REPO/profiles/slurm"
     --default-resources mem_mb=2000 "runtime=$MAX_MIN")
"${SMK[@]}" -n >"$T/plan.txt" 2>&1 || { cat "$T/plan.txt" >&2; die "dry run failed"; }
START_ISO="$(date +%Y-%m-%dT%H:%M:%S)"
START_S=$SECONDS
log "running the workflow (limit ${WORKFLOW_TIMEOUT}s)"
PATH="$(dirname "$PY"):$PATH"             # as `make run`: .venv's tools first, also in jobs
export PATH
# In the background + wait, so that SIGTERM/SIGINT reach the trap (and cleanup) at once.
# The plugin checks job states first after STATUS_S seconds, then 10 s later each time no
# job has finished (snakemake-executor-plugin-slurm 2.8.0): the test's jobs take ~10 s.
# train gets 2 threads (the config has 1 so that two jobs share the node): checks that
# threads reach SLURM as CPUs (and that a chain's segments need not share a thread count).
timeout -k 30 "$WORKFLOW_TIMEOUT" "${SMK[@]}" --slurm-init-seconds-before-status-checks "$STATUS_S" \
    --slurm-keep-successful-logs --set-threads train=2 >"$T/log/snakemake.log" 2>&1 &
SMK_PID=$!
rc=0
wait "$SMK_PID" || rc=$?
SMK_PID=""
ELAPSED=$((SECONDS - START_S))
if ((rc != 0)); then
    tail -n 60 "$T/log/snakemake.log" >&2
    logs="$WORK/.snakemake/slurm_logs"
    [[ -d "$logs" ]] && find "$logs" -name '*.log' -exec tail -n 20 {} + >&2
    die "snakemake --executor slurm exited $rc after ${ELAPSED}s"
fi
log "workflow finished in ${ELAPSED}s"

# --- 4. did it really run under SLURM, within the limit? ------------------------------------
# The plugin writes one log per SLURM job: .snakemake/slurm_logs/rule_<rule>/<wc>/<jobid>.log
# Comment last: the only field that could hold a '|'.
SACCT_FIELDS=JobID,State,ExitCode,Partition,AllocCPUS,ReqMem,Timelimit,Elapsed,Start,End
SACCT_FIELDS+=,JobName,Comment
sacct -a -X -n -P -S "$START_ISO" -o "$SACCT_FIELDS" >"$T/sacct.txt"
sacct -a -X -S "$START_ISO" -o JobID,JobName%36,Comment%52,State,Timelimit,Elapsed \
    >"$T/sacct_table.txt" 2>&1 || true
log "sacct (partition MaxTime $MAX_MIN min):"
cat "$T/sacct_table.txt" >&2
squeue -h -t all -o '%i|%T' >"$T/squeue.txt" 2>/dev/null || true
# Every output there (input trigger only: code edits in the checkout or a touch of the
# shared .venv-lava stamp made meanwhile would otherwise count as changes).
"${SMK[@]}" -n --rerun-triggers input >"$T/noop.txt" 2>&1 || true

# A job over a limit is refused when it is planned, and nothing is submitted: rerun the
# float evaluations (their inputs exist, so their requests are known) with
# resources.max_mem_mb far below what they need (merged into the config's resources).
mapfile -t EVALS < <(cd "$WORK" && ls results/*/h*/seed*/eval_float.json)
((${#EVALS[@]})) || die "no eval_float.json in $WORK/results"
(cd "$WORK" && stat -c '%n %Y' "${EVALS[@]}") >"$T/evals_before.txt"
rc=0
timeout -k 10 120 "${SMK[@]}" --config "resources={max_mem_mb: $REFUSE_MEM_MB}" \
    --forcerun evaluate_float --slurm-init-seconds-before-status-checks "$STATUS_S" -- "${EVALS[@]}" \
    >"$T/refused.txt" 2>&1 || rc=$?
echo "$rc" >"$T/refused.rc"
(cd "$WORK" && stat -c '%n %Y' "${EVALS[@]}") >"$T/evals_after.txt"
sacct -a -X -n -P -S "$START_ISO" -o JobID >"$T/sacct_after.txt"
log "run with resources.max_mem_mb=$REFUSE_MEM_MB exited $rc: $(grep -m1 -o \
    "rule [a-z_]* (.*max_mem_mb = [0-9]* MB" "$T/refused.txt" || echo '(no limit message)')"

# The same config, trained locally in one job per cell (no resources limits, --cores 2):
# the segmented chain must end with the same weights, byte for byte.
"$PY" -c 'import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
config.pop("resources", None)
yaml.safe_dump(config, open(sys.argv[2], "w"))' "$CONFIG" "$T/local.yaml"
mapfile -t MODELS < <(cd "$WORK" && ls results/*/h*/seed*/model.npz)
((${#MODELS[@]})) || die "no model.npz in $WORK/results"
log "training ${MODELS[*]} locally without segments (--cores 2)"
LOCAL_S=$SECONDS
timeout -k 10 300 "$PY" -m snakemake --snakefile "$REPO/Snakefile" --directory "$T/local" \
    --configfile "$T/local.yaml" --cores 2 -- "${MODELS[@]}" >"$T/log/local.log" 2>&1 \
    || { tail -n 40 "$T/log/local.log" >&2; die "the local unsegmented run failed"; }
log "local run finished in $((SECONDS - LOCAL_S))s"

"$PY" - "$WORK" "$T" "$ELAPSED" "$REPORT" "$PARTITION" "$MAX_MIN" "$CONFIG" \
    "$REFUSE_MEM_MB" <<'PYEOF'
import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml
from neurokws.resources import LOCAL_RULES

work, tmp, elapsed, report, partition, max_min, config_path, refuse_mb = sys.argv[1:]
work, tmp, max_min = Path(work), Path(tmp), int(max_min)
config = yaml.safe_load(Path(config_path).read_text())
segment_epochs = config["resources"].get("segment_epochs")


def job_stats(text):
    """rule -> job count from the 'Job stats' table of a dry run."""
    counts, rows = {}, text.partition("Job stats:")[2].splitlines()
    for line in rows[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def minutes(text):
    """[D-][HH:]MM:SS (sacct's Timelimit, Elapsed) -> minutes, as a float."""
    days, _, hms = text.rpartition("-")
    fields = [int(x) for x in hms.split(":")]
    while len(fields) < 3:
        fields.insert(0, 0)
    h, m, s = fields
    return int(days or 0) * 1440 + h * 60 + m + s / 60


# Jobs the main snakemake ran itself (`all`, any localrules) get no SLURM job.
local = set(re.findall(r"^localrule (\S+):$", (tmp / "log" / "snakemake.log").read_text(), re.M))
planned = {rule: n for rule, n in job_stats((tmp / "plan.txt").read_text()).items()
           if rule not in local | {"all"}}
sacct = {}
for line in (tmp / "sacct.txt").read_text().splitlines():
    (job_id, state, exit_code, part, cpus, mem, limit, used, start, end, name,
     comment) = line.split("|", 11)
    sacct[job_id] = {"state": state, "exit_code": exit_code, "partition": part,
                     "cpus": int(cpus), "mem": mem, "minutes": minutes(limit),
                     "elapsed_min": round(minutes(used), 2), "start": start, "end": end,
                     "job_name": name, "comment": comment}
squeue = dict(line.split("|") for line in (tmp / "squeue.txt").read_text().splitlines() if line)
jobs = []  # one per plugin log: rule, SLURM job id, what the rule asked for, what sacct saw
for path in sorted((work / ".snakemake" / "slurm_logs").rglob("*.log")):
    rule = next(p for p in path.relative_to(work).parts if p.startswith("rule_"))[5:]
    text = path.read_text()  # the job's snakemake prints the rule's threads and resources
    threads = re.search(r"^\s+threads: (\d+)", text, re.M)
    wildcards = re.search(r"^\s+wildcards: (.*)$", text, re.M)
    asked = {"threads": int(threads.group(1)) if threads else 1,
             "mem_mb": int(re.search(r"\bmem_mb=(\d+)", text).group(1)),
             "runtime": int(re.search(r"\bruntime=(\d+)", text).group(1))}
    wc = dict(kv.split("=", 1) for kv in wildcards.group(1).split(", ")) if wildcards else {}
    jobs.append({"rule": rule, "job_id": path.stem, "wildcards": wc, "asked": asked,
                 **sacct.get(path.stem, {})})
errors = []
ok = ("COMPLETED", "0:0", partition)
if not_ok := [j for j in jobs if (j.get("state"), j.get("exit_code"), j.get("partition")) != ok]:
    errors.append(f"jobs not COMPLETED 0:0 in partition {partition} (sacct): {not_ok}")
mismatch = [j for j in jobs if "mem" in j and (
    j["mem"] != f"{j['asked']['mem_mb']}M" or j["minutes"] != j["asked"]["runtime"]
    or j["cpus"] < j["asked"]["threads"])]
if mismatch:
    errors.append(f"SLURM allocations differ from the rules' resources: {mismatch}")
# The partition's limit: every job asked for at most MaxTime and ran within what it asked.
if over := [j for j in jobs if "minutes" in j and not (
        0 < j["minutes"] <= max_min and j["elapsed_min"] <= j["minutes"])]:
    errors.append(f"jobs over the partition's MaxTime ({max_min} min) or their own time "
                  f"limit (sacct Timelimit / Elapsed): {over}")
ran = {rule: sum(j["rule"] == rule for j in jobs) for rule in {j["rule"] for j in jobs}}
# The dry run before cannot know the segments (planned from `prepare`, a checkpoint).
if {r: n for r, n in ran.items() if r != "train_segment"} != planned:
    errors.append(f"SLURM jobs per rule {ran} differ from the plan {planned} "
                  "(+ train_segment)")
if extra := set(sacct) - {j["job_id"] for j in jobs}:
    errors.append(f"sacct jobs without a plugin log: {sorted(extra)}")
# The rules that ran on the submit host are the declared local rules of the plan (the
# gatherers of small tables and figures, neurokws.resources.LOCAL_RULES), `all` and the side
# venvs' rules, and none else.
plan_rules = set(job_stats((tmp / "plan.txt").read_text()))
if {r for r in local if r != "all" and not r.startswith("side_env_")} != \
        set(LOCAL_RULES) & plan_rules:
    errors.append(f"rules run on the submit host {sorted(local)} differ from the plan's "
                  f"local rules {sorted(set(LOCAL_RULES) & plan_rules)}")

# Every cell's training: a chain of train_segment jobs (>= 2) and train, contiguous epochs
# from 0, each within segment_epochs, one job after the other (sacct Start >= End before).
chains = {}
for job in jobs:
    if job["rule"] in ("train_segment", "train"):
        wc = job["wildcards"]
        cell = f"results/{wc['dataset']}/h{wc['hidden']}{wc['delays']}/seed{wc['seed']}"
        chains.setdefault(cell, []).append(job)
segments = {}
for cell, chain in sorted(chains.items()):
    parts = sorted((int(j["wildcards"]["first"]), int(j["wildcards"]["stop"]), j)
                   for j in chain if j["rule"] == "train_segment")
    finals = [j for j in chain if j["rule"] == "train"]
    markers = sorted(p.name for p in (work / cell / "segments").glob("epochs*.json"))
    bounds = [(a, b) for a, b, _ in parts]
    segments[cell] = {"train_segment": [f"{a}-{b}" for a, b in bounds],
                      "jobs": [j["job_id"] for _, _, j in parts] + [j["job_id"] for j in finals]}
    if len(parts) < 2 or len(finals) != 1:
        errors.append(f"{cell}: {len(parts)} train_segment jobs and {len(finals)} train "
                      "job(s); expected >= 2 and 1 (training in >= 3 segments)")
        continue
    if bounds[0][0] != 0 or any(b != a2 for (_, b), (a2, _) in zip(bounds, bounds[1:])):
        errors.append(f"{cell}: segments {bounds} are not contiguous from epoch 0")
    if segment_epochs and any(b - a > segment_epochs for a, b in bounds):
        errors.append(f"{cell}: a segment of {bounds} trains more than "
                      f"resources.segment_epochs = {segment_epochs} epochs")
    if markers != sorted(f"epochs{a}-{b}.json" for a, b in bounds):
        errors.append(f"{cell}: segment markers {markers} differ from the jobs {bounds}")
    order = [j for _, _, j in parts] + finals
    if any(later.get("start", "") < earlier.get("end", "~")
           for earlier, later in zip(order, order[1:])):
        errors.append(f"{cell}: the chain's jobs overlap in time (sacct Start/End): "
                      f"{[(j['job_id'], j.get('start'), j.get('end')) for j in order]}")
if not chains:
    errors.append("no training jobs (train_segment, train) among the SLURM jobs")

# The refused run: non-zero exit, the message names the rule and the limit, no new SLURM
# job, no new plugin log, the float evaluations untouched.
refused = (tmp / "refused.txt").read_text()
refused_rc = int((tmp / "refused.rc").read_text())
message = re.search(rf"rule evaluate_float \([^)]*\) would ask for \d+ MB > "
                    rf"resources\.max_mem_mb = {refuse_mb} MB", refused)
if refused_rc in (0, 124, 137) or not message:
    errors.append(f"the run with resources.max_mem_mb = {refuse_mb} exited {refused_rc}, "
                  f"expected a refusal naming rule evaluate_float:\n{refused[-3000:]}")
if new := set((tmp / "sacct_after.txt").read_text().split()) - set(sacct):
    errors.append(f"the refused run submitted SLURM jobs: {sorted(new)}")
if len(list((work / ".snakemake" / "slurm_logs").rglob("*.log"))) != len(jobs):
    errors.append("the refused run left new plugin logs (a job was submitted)")
if (tmp / "evals_before.txt").read_text() != (tmp / "evals_after.txt").read_text():
    errors.append("the refused run touched eval_float.json")

# The chain's weights equal those of one local, unsegmented job per cell.
weights = {}
for cell in sorted(chains):
    model = f"{cell}/model.npz"
    with np.load(work / model) as chained, np.load(tmp / "local" / model) as whole:
        same = {k: chained[k].tobytes() == whole[k].tobytes() for k in ("w_in", "w_rec", "w_out")}
    weights[model] = same
    if not all(same.values()):
        errors.append(f"{model}: the segmented chain's weights differ from one local job's: "
                      f"{same}")

tables = [work / "results" / "tables" / f"accuracy_{k}.csv" for k in ("float", "fixed")]
if missing := [str(t) for t in tables if not t.is_file()]:
    errors.append(f"missing outputs: {missing}")
noop = (tmp / "noop.txt").read_text()
if "Nothing to be done" not in noop:
    errors.append(f"a second (dry) run still has jobs to do: {job_stats(noop)}\n{noop[-3000:]}")
summary = {
    "ok": not errors, "errors": errors, "elapsed_s": int(elapsed), "n_jobs": len(jobs),
    "max_runtime_min": max_min, "planned": planned, "ran": ran, "rules": sorted(ran),
    "jobs": jobs, "segments": segments, "weights_equal": weights,
    "refused": {"exit_code": refused_rc, "message": message.group(0) if message else None},
    "squeue_seen": sorted(set(squeue) & {j["job_id"] for j in jobs}),
}
if report:
    Path(report).write_text(json.dumps(summary, indent=1))
for error in errors:
    print("CHECK FAILED:", error, file=sys.stderr)
if not errors:
    longest = max(j["elapsed_min"] for j in jobs)
    print(f"{len(jobs)} SLURM jobs, all COMPLETED 0:0 in sacct, time limits <= {max_min} min "
          f"(longest elapsed {longest:.2f} min); rules: {', '.join(summary['rules'])}; "
          f"segments {segments}; weights equal to one local job's: {sorted(weights)}; "
          f"refused: {summary['refused']['message']}", file=sys.stderr)
else:
    print("checks failed", file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF
log "PASSED: workflow ran under SLURM (MaxTime $MAX_MIN min, training in segments) in ${ELAPSED}s"
