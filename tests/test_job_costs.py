"""Every rule's log ends with its job's cost (rule_support.log_job_cost), and
`neurokws job-costs` sums them per rule (neurokws.utils.job_costs)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from neurokws.cli import main
from neurokws.utils import job_costs

ROOT = Path(__file__).resolve().parents[1]

# A rule script's life in a fresh process, as Snakemake runs it: start_rule, some work in
# this process and in a child process it waits for, exit.
JOB = textwrap.dedent("""
    import subprocess, sys, time
    from types import SimpleNamespace
    from neurokws.utils.rule_support import start_rule

    snakemake = SimpleNamespace(log=[sys.argv[1]], threads=1, rule=sys.argv[2],
                                wildcards={"seed": "1"})
    log = start_rule(snakemake)
    def burn(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
    burn(float(sys.argv[3]))
    subprocess.run([sys.executable, "-c", "import time\\nend = time.process_time() + "
                    + sys.argv[4] + "\\nwhile time.process_time() < end: pass"], check=True)
    time.sleep(float(sys.argv[5]))
    log.info("done")
""")


def run_job(log: Path, rule: str, cpu_s: float, child_s: float, sleep_s: float) -> None:
    subprocess.run([sys.executable, "-c", JOB, str(log), rule, str(cpu_s), str(child_s),
                    str(sleep_s)], check=True, cwd=ROOT, timeout=120)


def test_a_rule_log_ends_with_its_jobs_cost(tmp_path):
    log = tmp_path / "results" / "cell" / "logs" / "quantize_int8.log"
    run_job(log, "quantize", cpu_s=0.4, child_s=0.3, sleep_s=0.5)
    lines = log.read_text().splitlines()
    assert "job cost:" in lines[-1] and "done" in lines[-2]
    cost = job_costs.read_job_cost(log)
    assert cost.rule == "quantize"
    assert 0.3 <= cost.cpu_s - 0.4 < 1.5          # this process and its waited-for child
    # wall from the process start: the work, the child and the sleep, plus start-up
    assert cost.wall_s >= 0.4 + 0.3 + 0.5 and cost.wall_s < 60
    assert cost.peak_mb > 5 and cost.children_peak_mb > 1


def test_job_costs_are_summed_per_rule(tmp_path, capsys):
    results = tmp_path / "results"
    run_job(results / "a" / "logs" / "quantize_int8.log", "quantize", 0.2, 0.0, 0.0)
    run_job(results / "b" / "logs" / "quantize_int8.log", "quantize", 0.2, 0.0, 0.0)
    run_job(results / "logs" / "summary.log", "summary", 2.0, 0.0, 0.0)
    (results / "logs" / "other.log").write_text("a log without a job cost\n")
    costs = job_costs.job_costs(results)
    assert sorted(c.rule for c in costs) == ["quantize", "quantize", "summary"]
    rows = {r["rule"]: r for r in job_costs.by_rule(costs)}
    assert rows["quantize"]["jobs"] == 2 and rows["summary"]["jobs"] == 1
    assert rows["quantize"]["cpu_s"] == pytest.approx(sum(c.cpu_s for c in costs
                                                          if c.rule == "quantize"))
    assert rows["total"]["jobs"] == 3
    assert rows["total"]["cpu_s"] == pytest.approx(sum(c.cpu_s for c in costs))
    assert next(iter(rows)) == "summary"   # the most CPU seconds first
    assert main(["job-costs", str(results)]) == 0
    out = capsys.readouterr().out
    assert "| quantize | 2 |" in out and "| total | 3 |" in out


def test_a_rerun_appends_and_its_cost_counts(tmp_path):
    log = tmp_path / "logs" / "train.log"
    run_job(log, "train", 0.1, 0.0, 0.0)
    run_job(log, "train", 0.5, 0.0, 0.0)
    assert log.read_text().count("job cost:") == 2
    assert job_costs.read_job_cost(log).cpu_s >= 0.5


def test_job_costs_of_a_folder_without_them_is_a_clear_error(tmp_path, capsys):
    assert main(["job-costs", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "old.log").write_text("rule train, wildcards {}\n")
    assert main(["job-costs", str(tmp_path)]) == 2
    assert "no rule log with a 'job cost' line" in capsys.readouterr().err
