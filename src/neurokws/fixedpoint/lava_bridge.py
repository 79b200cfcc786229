"""Run Lava from the main venv: ship inputs to lava_runner in the "lava" side environment.

Lava 0.10 cannot live in the main venv (it pins numpy < 2 and an old torch), so the runner
executes in its own venv through `neurokws.utils.sidecar` (which says where the venv is
and how to create it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurokws.fixedpoint.inputs import StepInputs
from neurokws.utils.sidecar import run_module

RUNNER = "neurokws.fixedpoint.lava_runner"


@dataclass
class LavaJob:
    """One Lava evaluation of `inputs` (or the samples at `indices`) on the NetX file `net`."""

    net: str | os.PathLike
    inputs: StepInputs
    indices: Sequence[int] | None = None
    stream_len: int | None = 1
    record_all: bool = False
    labels: np.ndarray | None = None
    keep_voltages: bool = True
    result: dict[str, np.ndarray] = field(default_factory=dict)


def run_lava_jobs(jobs: Sequence[LavaJob], timeout: float | None = None
                  ) -> list[dict[str, np.ndarray]]:
    """Run all jobs in one Lava process (one start-up); return each job's output arrays
    (lava_runner's names; `indices` are positions in each job's own `inputs`)."""
    requests, arrays = [], {}
    for i, job in enumerate(jobs):
        inputs, labels = job.inputs, job.labels
        if job.indices is not None:   # ship only the selected samples
            sel = np.asarray(job.indices, dtype=np.int64)
            inputs = inputs.select(sel)
            labels = None if labels is None else np.asarray(labels)[sel]
        payload = inputs.arrays()
        if labels is not None:
            payload["labels"] = np.asarray(labels)
        arrays.update({f"j{i}_{k}": v for k, v in payload.items()})
        requests.append({"net": str(Path(job.net).resolve()),
                         "stream_len": 0 if job.stream_len is None else job.stream_len,
                         "record_all": job.record_all, "keep_voltages": job.keep_voltages})
    reply = run_module("lava", RUNNER, {"jobs": requests}, arrays, timeout=timeout)
    results = []
    for i, job in enumerate(jobs):
        prefix = f"j{i}_"
        job.result = {k[len(prefix):]: v for k, v in reply.arrays.items() if k.startswith(prefix)}
        job.result["lava_nc_version"] = np.array(reply.data["lava-nc"])
        job.result["lava_dl_version"] = np.array(reply.data["lava-dl"])
        if job.indices is not None:
            job.result["indices"] = np.asarray(job.indices, dtype=np.int64)
        results.append(job.result)
    return results


def run_lava(net: str | os.PathLike, inputs: StepInputs, indices: Sequence[int] | None = None,
             stream_len: int | None = 1, record_all: bool = False,
             labels: np.ndarray | None = None, timeout: float | None = None,
             keep_voltages: bool = True) -> dict[str, np.ndarray]:
    """Evaluate `inputs` (or the samples at `indices`) in Lava; the runner's output arrays."""
    job = LavaJob(net, inputs, indices, stream_len, record_all, labels, keep_voltages)
    return run_lava_jobs([job], timeout=timeout)[0]


GRAPH = "neurokws.fixedpoint.lava_graph"


def run_lava_graph(w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray, hidden, output,
                   inputs: StepInputs, d_in: np.ndarray | None = None,
                   d_rec: np.ndarray | None = None, stream_len: int | None = None,
                   timeout: float | None = None) -> dict[str, np.ndarray]:
    """Run our network as a hand-built Lava graph (lava_graph.py) with optional delays.

    w_*: integer matrices (targets, sources) as in a NetX file; hidden/output: netx_file
    NeuronParams; d_in/d_rec: integer delays (targets, sources), None = no delays (Dense),
    an array (even all zero) = DelayDense. Returns u, v and spikes of both layers,
    (samples, T, size) each.
    """
    from neurokws.fixedpoint.lava_graph import graph_request

    request, arrays = graph_request(w_in, w_rec, w_out, hidden, output, inputs.n_steps,
                                    inputs.message_bits, d_in, d_rec, stream_len)
    arrays.update({f"in_{k}": v for k, v in inputs.arrays().items()})
    return run_module("lava", GRAPH, request, arrays, timeout=timeout).arrays
