#!/usr/bin/env bash
# Real SLURM integration test: runs the neurokws workflow through profiles/slurm
# (snakemake --executor slurm) on a throw-away single-node SLURM cluster on this machine.
#
#   sudo bash tests/cluster/run_slurm_test.sh        # about 3-4 minutes; see README.md here
#
# 1. installs munge, slurmctld, slurmd, slurm-client, slurmdbd, mariadb-server (Debian) if
#    missing (they stay installed; no service is started by the install);
# 2. starts a private cluster in a temp dir: MariaDB data dir, slurm.conf (exported as
#    SLURM_CONF), state, logs and ports of its own, every daemon in the foreground as a
#    background job of this script, remembered by PID; munged on the default socket with a
#    fresh key (a munged already running there is used instead). /etc/slurm/slurm.conf
#    becomes a symlink to our slurm.conf while the test runs (see below); an existing
#    /etc/slurm/slurm.conf that is not ours stops the test;
# 3. runs the workflow on tests/cluster/config.yaml in a temp working directory (the
#    repository's results/ are never touched), wrapped in `timeout -k`;
# 4. checks that every job ran as a SLURM job: each plugin log names a job id that sacct
#    (slurmdbd accounting) reports COMPLETED with exit code 0:0 in our partition, with the
#    rule's mem_mb, runtime and threads as its memory, time limit and CPUs; every job of the
#    plan (a dry run first; all but local rules) has one, no SLURM job is unaccounted for, the
#    result tables exist and a second (dry) run has nothing to do;
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
WORKFLOW_TIMEOUT="${NEUROKWS_SLURM_TIMEOUT:-900}"
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
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$REAL_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
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
log "cluster up: $NCPU CPUs, ${REAL_MB} MB, partition $PARTITION, $T"

# --- 3. the workflow through profiles/slurm --------------------------------------------------
WORK="$T/work"
SMK=("$PY" -m snakemake --snakefile "$REPO/Snakefile" --directory "$WORK"
     --configfile "$REPO/tests/cluster/config.yaml" --profile "$REPO/profiles/slurm")
"${SMK[@]}" -n >"$T/plan.txt" 2>&1 || { cat "$T/plan.txt" >&2; die "dry run failed"; }
START_ISO="$(date +%Y-%m-%dT%H:%M:%S)"
START_S=$SECONDS
log "running the workflow (limit ${WORKFLOW_TIMEOUT}s)"
PATH="$(dirname "$PY"):$PATH"             # as `make run`: .venv's tools first, also in jobs
export PATH
# In the background + wait, so that SIGTERM/SIGINT reach the trap (and cleanup) at once.
# train gets 2 threads (the config has 1 so that two jobs share the node): checks that
# threads reach SLURM as CPUs.
timeout -k 30 "$WORKFLOW_TIMEOUT" "${SMK[@]}" --slurm-init-seconds-before-status-checks 5 \
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

# --- 4. did it really run under SLURM? ----------------------------------------------------
# The plugin writes one log per SLURM job: .snakemake/slurm_logs/rule_<rule>/<wc>/<jobid>.log
sacct -a -X -n -P -S "$START_ISO" -o JobID,State,ExitCode,Partition,AllocCPUS,ReqMem,Timelimit \
    >"$T/sacct.txt"
squeue -h -t all -o '%i|%T' >"$T/squeue.txt" 2>/dev/null || true
# Every output there (input trigger only: code edits in the checkout or a touch of the
# shared .venv-lava stamp made meanwhile would otherwise count as changes).
"${SMK[@]}" -n --rerun-triggers input >"$T/noop.txt" 2>&1 || true
"$PY" - "$WORK" "$T" "$ELAPSED" "$REPORT" "$PARTITION" <<'PYEOF'
import json
import re
import sys
from pathlib import Path

work, tmp, elapsed, report, partition = sys.argv[1:]
work, tmp = Path(work), Path(tmp)


def job_stats(text):
    """rule -> job count from the 'Job stats' table of a dry run."""
    counts, rows = {}, text.partition("Job stats:")[2].splitlines()
    for line in rows[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


# Jobs the main snakemake ran itself (`all`, any localrules) get no SLURM job.
local = set(re.findall(r"^localrule (\S+):$", (tmp / "log" / "snakemake.log").read_text(), re.M))
planned = {rule: n for rule, n in job_stats((tmp / "plan.txt").read_text()).items()
           if rule not in local | {"all"}}
sacct = {}
for line in (tmp / "sacct.txt").read_text().splitlines():
    job_id, state, exit_code, part, cpus, mem, limit = line.split("|")
    d, _, hms = limit.rpartition("-")  # [D-]HH:MM:SS -> minutes
    h, m, _ = (int(x) for x in hms.split(":"))
    sacct[job_id] = {"state": state, "exit_code": exit_code, "partition": part,
                     "cpus": int(cpus), "mem": mem, "minutes": int(d or 0) * 1440 + h * 60 + m}
squeue = dict(line.split("|") for line in (tmp / "squeue.txt").read_text().splitlines() if line)
jobs = []  # one per plugin log: rule, SLURM job id, what the rule asked for, what sacct saw
for path in sorted((work / ".snakemake" / "slurm_logs").rglob("*.log")):
    rule = next(p for p in path.relative_to(work).parts if p.startswith("rule_"))[5:]
    text = path.read_text()  # the job's snakemake prints the rule's threads and resources
    threads = re.search(r"^\s+threads: (\d+)", text, re.M)
    asked = {"threads": int(threads.group(1)) if threads else 1,
             "mem_mb": int(re.search(r"\bmem_mb=(\d+)", text).group(1)),
             "runtime": int(re.search(r"\bruntime=(\d+)", text).group(1))}
    jobs.append({"rule": rule, "job_id": path.stem, "asked": asked, **sacct.get(path.stem, {})})
errors = []
ok = ("COMPLETED", "0:0", partition)
if not_ok := [j for j in jobs if (j.get("state"), j.get("exit_code"), j.get("partition")) != ok]:
    errors.append(f"jobs not COMPLETED 0:0 in partition {partition} (sacct): {not_ok}")
mismatch = [j for j in jobs if "mem" in j and (
    j["mem"] != f"{j['asked']['mem_mb']}M" or j["minutes"] != j["asked"]["runtime"]
    or j["cpus"] < j["asked"]["threads"])]
if mismatch:
    errors.append(f"SLURM allocations differ from the rules' resources: {mismatch}")
ran = {rule: sum(j["rule"] == rule for j in jobs) for rule in {j["rule"] for j in jobs}}
if ran != planned:
    errors.append(f"SLURM jobs per rule {ran} differ from the plan {planned}")
if extra := set(sacct) - {j["job_id"] for j in jobs}:
    errors.append(f"sacct jobs without a plugin log: {sorted(extra)}")
tables = [work / "results" / "tables" / f"accuracy_{k}.csv" for k in ("float", "fixed")]
if missing := [str(t) for t in tables if not t.is_file()]:
    errors.append(f"missing outputs: {missing}")
noop = (tmp / "noop.txt").read_text()
if "Nothing to be done" not in noop:
    errors.append(f"a second (dry) run still has jobs to do: {job_stats(noop)}\n{noop[-3000:]}")
summary = {
    "ok": not errors, "errors": errors, "elapsed_s": int(elapsed), "n_jobs": len(jobs),
    "planned": planned, "rules": sorted(ran), "jobs": jobs,
    "squeue_seen": sorted(set(squeue) & {j["job_id"] for j in jobs}),
}
if report:
    Path(report).write_text(json.dumps(summary, indent=1))
for error in errors:
    print("CHECK FAILED:", error, file=sys.stderr)
print(f"{len(jobs)} SLURM jobs, all COMPLETED 0:0 in sacct; rules: {', '.join(summary['rules'])}"
      if not errors else "checks failed", file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF
log "PASSED: workflow ran under SLURM in ${ELAPSED}s"
