"""Helpers for tests that run the real Snakemake workflow in a temporary directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run this checkout's Snakefile with `args` in `cwd`; capture output."""
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile",
                           str(ROOT / "Snakefile"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def plan(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from a dry run's summary table."""
    counts = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts
