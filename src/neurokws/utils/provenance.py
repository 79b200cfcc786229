"""Provenance records attached to every result file: what produced it (a rule's params and
inputs, see utils/rule_support.rule_provenance), seed, versions, host, machine target,
git commit."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from neurokws.utils import target

CORE_PACKAGES = ("neurokws", "numpy", "numba", "h5py", "pandas", "snakemake", "tonic")


def package_versions(names: tuple[str, ...] = CORE_PACKAGES) -> dict[str, str | None]:
    """Installed versions of `names` (None where a package is absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """This machine's CPU model name (/proc/cpuinfo on Linux, else platform's processor)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit(repo: str | os.PathLike | None = None) -> str | None:
    """The current git commit of the workflow checkout (with '-dirty' when modified)."""
    cwd = Path(repo) if repo else Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, check=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-serialisable config dict."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (used to tie an output to the checkpoint it came from)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(config: dict[str, Any] | None = None, seed: int | None = None,
               **extra: Any) -> dict[str, Any]:
    """A provenance record: seed, versions, host, git commit, time (+ a config and its hash
    when given, and `extra`)."""
    record: dict[str, Any] = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "host": {"platform": platform.platform(), "machine": platform.machine(),
                 "cpu": cpu_model(), "cpu_count": os.cpu_count(),
                 "python_executable": sys.executable},
        "git_commit": git_commit(),
        # the machine target the floats were computed for (utils/target.py)
        "target": target.describe(),
    }
    if config is not None:
        record["config"] = config
        record["config_hash"] = config_hash(config)
    if seed is not None:
        record["seed"] = int(seed)
    record.update(extra)
    return record


# A stage's provenance, built when its output is written (so that created_utc is the time
# of writing): called with the stage's own extra keys. Rule scripts pass
# rule_support.provenance_of(snakemake); code outside the workflow a `fixed` record.
Provenance = Callable[..., dict[str, Any]]


def fixed(record: dict[str, Any]) -> Provenance:
    """A Provenance that gives `record` (plus the stage's extra keys)."""
    return lambda **extra: {**record, **extra}
