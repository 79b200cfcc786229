"""What each rule of a finished run cost: the "job cost" line that every rule script's log
ends with (`neurokws.utils.rule_support.log_job_cost`), summed per rule.

    neurokws job-costs [RESULTS]      a markdown table: per rule the jobs, wall seconds (sum
                                      and largest) and CPU seconds (sum and largest)

Wall time is each job's own, from its process start to its exit (Python's start-up and the
imports included); Snakemake's scheduling between jobs is not in it, so the run's own wall
time is more than the sum over its jobs divided by the cores. CPU seconds include the child
processes a job waited for (a Lava side environment). Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_RULE = re.compile(r"neurokws\.rule\.(\w+): rule \w+, wildcards")
_COST = re.compile(r"neurokws\.rule\.(\w+): job cost: wall ([\d.]+|\?) s, CPU ([\d.]+) s "
                   r"\(children ([\d.]+) s\), peak RSS ([\d.]+) MB \(children ([\d.]+) MB\)")


@dataclass(frozen=True)
class JobCost:
    """One job: its rule, its log file, wall seconds (None: unknown), CPU seconds (children
    included), peak resident MB of the job's process and of its largest child."""

    rule: str
    log: str
    wall_s: float | None
    cpu_s: float
    peak_mb: float
    children_peak_mb: float


def read_job_cost(path: Path) -> JobCost | None:
    """The last finished job of a rule's log (a rerun appends to it), None if none."""
    found = None
    for line in path.read_text(errors="replace").splitlines():
        match = _COST.search(line)
        if match:
            rule, wall, cpu, _, peak, kids = match.groups()
            found = JobCost(rule, str(path), None if wall == "?" else float(wall), float(cpu),
                            float(peak), float(kids))
    return found


def job_costs(results: Path) -> list[JobCost]:
    """Every job cost under `results` (the rules' logs: results/**/*.log)."""
    costs = (read_job_cost(path) for path in sorted(Path(results).rglob("*.log")))
    return [cost for cost in costs if cost is not None]


def by_rule(costs: list[JobCost]) -> list[dict[str, float | int | str]]:
    """Per rule: jobs, wall and CPU seconds (sum, largest), largest peak RSS (MB); the rules
    with the most CPU seconds first, then a row "total"."""
    rows: dict[str, dict[str, float | int | str]] = {}
    for cost in costs:
        row = rows.setdefault(cost.rule, {"rule": cost.rule, "jobs": 0, "wall_s": 0.0,
                                          "wall_max_s": 0.0, "cpu_s": 0.0, "cpu_max_s": 0.0,
                                          "peak_mb": 0.0})
        wall = cost.wall_s or 0.0
        row["jobs"] += 1
        row["wall_s"] += wall
        row["wall_max_s"] = max(row["wall_max_s"], wall)
        row["cpu_s"] += cost.cpu_s
        row["cpu_max_s"] = max(row["cpu_max_s"], cost.cpu_s)
        row["peak_mb"] = max(row["peak_mb"], cost.peak_mb, cost.children_peak_mb)
    table = sorted(rows.values(), key=lambda r: (-r["cpu_s"], r["rule"]))
    total = {"rule": "total", "jobs": sum(r["jobs"] for r in table),
             "wall_s": sum(r["wall_s"] for r in table),
             "wall_max_s": max((r["wall_max_s"] for r in table), default=0.0),
             "cpu_s": sum(r["cpu_s"] for r in table),
             "cpu_max_s": max((r["cpu_max_s"] for r in table), default=0.0),
             "peak_mb": max((r["peak_mb"] for r in table), default=0.0)}
    return [*table, total]


def markdown(rows: list[dict[str, float | int | str]]) -> str:
    """The per-rule table as markdown."""
    lines = ["| rule | jobs | wall s (sum) | wall s (largest) | CPU s (sum) | CPU s (largest) "
             "| peak RSS MB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['rule']} | {r['jobs']} | {r['wall_s']:.1f} | {r['wall_max_s']:.1f} "
                     f"| {r['cpu_s']:.1f} | {r['cpu_max_s']:.1f} | {r['peak_mb']:.0f} |")
    return "\n".join(lines)
