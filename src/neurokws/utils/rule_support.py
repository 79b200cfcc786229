"""Glue for Snakemake rule scripts: logging into the rule's log file and thread settings."""

from __future__ import annotations

import logging
import os
import sys
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
    return logger
