"""Glue for Snakemake rule scripts: logging into the rule's log file, thread settings and
the job's cost (its log's last line, tabulated by `neurokws.utils.job_costs`)."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def start_rule(snakemake: Any) -> logging.Logger:
    """Send logging and stderr (progress bars, warnings) to the rule's log; set threads."""
    logs = list(getattr(snakemake, "log", []))
    if logs:
        Path(logs[0]).parent.mkdir(parents=True, exist_ok=True)
        stream = open(logs[0], "a", buffering=1)  # lives as long as the job
        sys.stderr = stream
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    threads = int(getattr(snakemake, "threads", 1) or 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover - numba is a hard dependency
        pass
    logger = logging.getLogger(f"neurokws.rule.{snakemake.rule}")
    logger.info("rule %s, wildcards %s, threads %d", snakemake.rule,
                dict(snakemake.wildcards.items()), threads)
    atexit.register(log_job_cost, logger)
    return logger


def process_age_s() -> float | None:
    """Seconds since this process started (Linux: /proc/self/stat field 22, starttime, in
    clock ticks since boot, against /proc/uptime; proc(5)); None where there is no /proc."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()   # after the command name
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


JOB_COST = "job cost:"   # the line `neurokws.utils.job_costs` reads


def log_job_cost(logger: logging.Logger) -> None:
    """Log the job's wall time since its process started (Python's start-up, Snakemake's
    script preamble and the imports included), its CPU seconds (this process and the child
    processes it waited for: a Lava or other side environment) and peak resident memory."""
    own, children = (resource.getrusage(who)
                     for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    age = process_age_s()
    logger.info("%s wall %s s, CPU %.2f s (children %.2f s), peak RSS %.1f MB "
                "(children %.1f MB)", JOB_COST, "?" if age is None else f"{age:.2f}",
                own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
                children.ru_utime + children.ru_stime, own.ru_maxrss / 1024,
                children.ru_maxrss / 1024)   # ru_maxrss: KiB on Linux (getrusage(2))


def provenance_of(snakemake: Any, **extra: Any) -> Callable[..., dict[str, Any]]:
    """The rule's provenance (`rule_provenance`, with `extra`) as a stage takes it: built
    when the stage writes its output, with the stage's own keys added."""
    return functools.partial(rule_provenance, snakemake, **extra)


def rule_provenance(snakemake: Any, **extra: Any) -> dict[str, Any]:
    """The provenance of a rule's output: rule, wildcards, every value it was given
    (`params`) and the SHA-256 of its input files, plus versions, host and git commit."""
    from neurokws.utils.provenance import file_sha256, provenance

    def digest(value: Any) -> Any:
        if isinstance(value, str):
            return file_sha256(value) if Path(value).is_file() else None
        return [digest(v) for v in value]

    named = dict(snakemake.input.items()) or dict(enumerate(snakemake.input))
    seed = snakemake.wildcards.get("seed")
    return provenance(seed=None if seed is None else int(seed), rule=snakemake.rule,
                      wildcards=dict(snakemake.wildcards.items()),
                      params=dict(snakemake.params.items()),
                      input_sha256={str(k): digest(v) for k, v in named.items()}, **extra)
