"""Real SLURM: the workflow through profiles/slurm on a throw-away single-node cluster.

tests/cluster/run_slurm_test.sh installs SLURM from Debian packages if needed, starts the
daemons, runs the workflow on tests/cluster/config.yaml with `--executor slurm` and stops
everything again (about 6 minutes). The partition's MaxTime is the config's
resources.max_runtime (2 minutes) and resources.segment_epochs makes every cell's training a
chain of >= 3 jobs: sacct shows every job within the limit, the chain's weights
equal one local job's, and a job over resources.max_mem_mb is refused when it is planned.
It needs root and apt-get (or SLURM already installed); elsewhere, or with
NEUROKWS_SKIP_CLUSTER=1, this test is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from neurokws.resources import LOCAL_RULES

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "cluster" / "run_slurm_test.sh"
LIMIT_S = 1500  # the script: workflow 900 s (NEUROKWS_SLURM_TIMEOUT), then 120 + 300 s
SKIP_EXIT = 77  # the script's "cannot run here"

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def skip_reason() -> str | None:
    if os.environ.get("NEUROKWS_SKIP_CLUSTER") == "1":
        return "NEUROKWS_SKIP_CLUSTER=1"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the SLURM test needs root (it installs packages and runs the SLURM daemons)"
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        return "the SLURM test needs apt-get to install SLURM (Debian/Ubuntu)"
    return None


def run_script(report: Path) -> subprocess.CompletedProcess:
    """Run the script in its own session; on timeout SIGTERM it so that its trap cleans up."""
    env = {**os.environ, "NEUROKWS_SLURM_REPORT": str(report)}
    with subprocess.Popen(["bash", str(SCRIPT)], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True) as proc:
        try:
            out, _ = proc.communicate(timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # the script stops its daemons by PID
            try:
                out, _ = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, _ = proc.communicate()
            pytest.fail(f"SLURM test ran past {LIMIT_S}s:\n{out[-5000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


@pytest.mark.timeout(LIMIT_S + 180)
def test_workflow_runs_under_slurm(tmp_path):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    report = tmp_path / "slurm_report.json"
    proc = run_script(report)
    if proc.returncode == SKIP_EXIT:
        pytest.skip(proc.stdout.strip().splitlines()[-1])
    # On failure: the script's own lines (steps, failed checks) first, then its output's tail.
    steps = [line for line in proc.stdout.splitlines()
             if line.startswith(("[slurm-test", "CHECK FAILED"))]
    assert proc.returncode == 0, "\n".join(steps)[-6000:] + "\n...\n" + proc.stdout[-6000:]
    summary = json.loads(report.read_text())
    assert summary["ok"], summary["errors"]
    # Every rule of the workflow ran as SLURM jobs that accounting (sacct) saw complete, but
    # those that gather small tables and figures, which run on the submit host.
    assert {"train", "eval_lava_chunk", "eval_fixed", "profile"} <= set(summary["rules"])
    assert not set(summary["rules"]) & set(LOCAL_RULES), summary["rules"]
    assert summary["n_jobs"] >= 25
    assert all(job["state"] == "COMPLETED" and job["exit_code"] == "0:0"
               for job in summary["jobs"])
    assert all(job["partition"] == "debug" for job in summary["jobs"])
    # Rule resources reached sbatch: train runs with --set-threads train=2.
    assert all(job["cpus"] == 2 and job["mem"] == f"{job['asked']['mem_mb']}M"
               for job in summary["jobs"] if job["rule"] == "train")
    # The partition's limit: every job asked for at most MaxTime (2 min) and ran
    # within what it asked; training ran as chains of train_segment jobs and train.
    limit = summary["max_runtime_min"]
    assert limit == 2
    assert all(0 < job["minutes"] <= limit and job["elapsed_min"] <= job["minutes"]
               for job in summary["jobs"])
    assert "train_segment" in summary["rules"]
    assert len(summary["segments"]) == 2  # cells: two seeds
    for cell, chain in summary["segments"].items():
        assert chain["train_segment"] == ["0-1", "1-2"], cell
        assert len(chain["jobs"]) == 3, cell
    # ... with the weights of one unsegmented local job per cell, byte for byte.
    assert len(summary["weights_equal"]) == 2
    assert all(all(same.values()) for same in summary["weights_equal"].values())
    # A job over resources.max_mem_mb was refused when planned, naming its rule.
    assert summary["refused"]["exit_code"] != 0
    assert summary["refused"]["message"].startswith("rule evaluate_float (")
