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
