"""Run Lava (in .venv-lava) from the main venv: write inputs, call lava_runner, read results.

Lava 0.10 cannot live in the main venv (it pins numpy < 2 and an old torch), so the runner
executes in its own venv, created by ``bash envs/lava/setup_lava_env.sh``. The venv is
``$NEUROKWS_LAVA_VENV`` if set, else ``.venv-lava`` at the repository root.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import neurokws
from neurokws.fixedpoint.inputs import StepInputs

SRC_DIR = Path(neurokws.__file__).resolve().parents[1]
REPO_ROOT = SRC_DIR.parent
STAMP_NAME = ".neurokws-lava-stamp"
SETUP_HINT = "bash envs/lava/setup_lava_env.sh"


class LavaUnavailableError(RuntimeError):
    """The Lava venv is missing or incomplete."""


def lava_venv() -> Path:
    """The Lava venv directory ($NEUROKWS_LAVA_VENV or <repo>/.venv-lava)."""
    return Path(os.environ.get("NEUROKWS_LAVA_VENV", REPO_ROOT / ".venv-lava"))


def lava_python() -> Path:
    """The Lava venv's interpreter; raise LavaUnavailableError if the venv is not complete."""
    venv = lava_venv()
    python = venv / "bin" / "python"
    if not (python.exists() and (venv / STAMP_NAME).is_file()):
        raise LavaUnavailableError(
            f"no complete Lava venv at {venv}: create it with `{SETUP_HINT}` "
            "(about a minute; `make test` does it) or set NEUROKWS_LAVA_VENV.")
    return python


@dataclass
class LavaJob:
    """One Lava evaluation of `inputs` on the NetX file `net` (see lava_runner)."""

    net: str | os.PathLike
    inputs: StepInputs
    indices: Sequence[int] | None = None
    stream_len: int | None = 1
    record_all: bool = False
    labels: np.ndarray | None = None
    result: dict[str, np.ndarray] = field(default_factory=dict)


def run_lava_jobs(jobs: Sequence[LavaJob], workdir: str | os.PathLike | None = None,
                  timeout: float | None = None) -> list[dict[str, np.ndarray]]:
    """Run all jobs in one Lava process (one start-up); return each job's output arrays."""
    python = lava_python()
    with tempfile.TemporaryDirectory(dir=workdir, prefix="neurokws-lava-") as tmp:
        manifest = []
        for i, job in enumerate(jobs):
            inputs, labels = job.inputs, job.labels
            if job.indices is not None:   # ship only the selected samples
                sel = np.asarray(job.indices, dtype=np.int64)
                inputs = inputs.select(sel)
                labels = None if labels is None else np.asarray(labels)[sel]
            arrays = inputs.arrays()
            if labels is not None:
                arrays["labels"] = np.asarray(labels)
            in_path, out_path = Path(tmp, f"in{i}.npz"), Path(tmp, f"out{i}.npz")
            np.savez(in_path, **arrays)
            manifest.append({"net": str(Path(job.net).resolve()), "inputs": str(in_path),
                             "out": str(out_path),
                             "stream_len": 0 if job.stream_len is None else job.stream_len,
                             "record_all": job.record_all})
        manifest_path = Path(tmp, "jobs.json")
        manifest_path.write_text(json.dumps(manifest))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(SRC_DIR)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH")
                              else [])))
        proc = subprocess.run([str(python), "-m", "neurokws.fixedpoint.lava_runner",
                               "--manifest", str(manifest_path)], env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"lava_runner failed (exit {proc.returncode}):\n"
                               f"{proc.stderr[-4000:]}")
        results = []
        for job, entry in zip(jobs, manifest, strict=True):
            with np.load(entry["out"]) as archive:
                job.result = {key: archive[key] for key in archive.files}
            if job.indices is not None:
                job.result["indices"] = np.asarray(job.indices, dtype=np.int64)
            results.append(job.result)
        return results


def run_lava(net: str | os.PathLike, inputs: StepInputs, indices: Sequence[int] | None = None,
             stream_len: int | None = 1, record_all: bool = False,
             labels: np.ndarray | None = None, timeout: float | None = None
             ) -> dict[str, np.ndarray]:
    """Evaluate `inputs` (or the samples at `indices`) in Lava; the runner's output arrays."""
    job = LavaJob(net, inputs, indices, stream_len, record_all, labels)
    return run_lava_jobs([job], timeout=timeout)[0]
