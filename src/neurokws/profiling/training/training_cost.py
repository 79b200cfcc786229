"""Figure 3 measurement: training cost of Eventprop (ours) vs BPTT (Spyx) over T.

Each (method, T) runs in its own child process through `neurokws.utils.sidecar.run_module`
(cost_eventprop in this interpreter, cost_spyx in the Spyx venv), one after the other on the
same cores, so peak memory
belongs to one measurement only. Time per epoch = the fastest of the timed batches (best of
N, as timeit recommends: other processes on a shared machine only ever add time) x batches
per epoch of `epoch_samples` training samples (SHD: 8156, no augmentation, as in the paper's
Figure 3); the median batch time is kept in the CSV too.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from neurokws.utils.sidecar import run_module

log = logging.getLogger(__name__)
# method -> (side environment (None: this interpreter), child module)
METHODS = {"eventprop": (None, "neurokws.profiling.training.cost_eventprop"),
           "bptt_spyx": ("spyx", "neurokws.profiling.training.cost_spyx")}
METHOD_LABELS = {"eventprop": "Eventprop (ours, numba CPU)",
                 "bptt_spyx": "BPTT surrogate gradient (Spyx, JAX CPU)"}
CSV_COLUMNS = ["method", "n_steps", "dt_ms", "hidden", "n_classes", "batch_size",
               "events_per_sample", "timed_batches", "compile_s", "first_batch_s",
               "batch_median_s", "batch_min_s", "batches_per_epoch", "time_per_epoch_s",
               "time_100_epochs_s", "train_mem_mib", "xla_buffers_mib", "base_rss_mib",
               "peak_rss_mib", "hidden_spikes_per_neuron", "threads", "python", "versions"]


@dataclass(frozen=True)
class CostSettings:
    """What to measure: the config's `training_cost` section (see config/schema.yaml) and
    the `model` / `training` sections the measured networks are built with."""

    n_steps: tuple[int, ...]
    hidden: int
    batch_size: int
    batches: int
    events_per_sample: int
    spikes_per_neuron: float
    n_classes: int
    n_in: int
    reg_lambda: float
    epoch_samples: int
    threads: int | None
    seed: int
    methods: tuple[str, ...]
    timeout_s: float
    model: Mapping[str, Any]
    training: Mapping[str, Any]

    @classmethod
    def from_config(cls, section: Mapping[str, Any], model: Mapping[str, Any],
                    training: Mapping[str, Any]) -> CostSettings:
        """From a resolved config's sections (`enabled` belongs to the workflow)."""
        values = {k: v for k, v in section.items() if k != "enabled"}
        settings = cls(**{**values, "n_steps": tuple(int(t) for t in values["n_steps"]),
                          "methods": tuple(values["methods"])}, model=dict(model),
                       training=dict(training))
        bad = set(settings.methods) - set(METHODS)
        if bad:
            raise ValueError(f"training_cost.methods: unknown {sorted(bad)}; use {list(METHODS)}")
        return settings


def child_request(n_steps: int, settings: CostSettings) -> dict[str, Any]:
    """The request of one measurement (what cost_eventprop / cost_spyx read)."""
    return {"steps": int(n_steps), "hidden": settings.hidden, "classes": settings.n_classes,
            "batch": settings.batch_size, "batches": settings.batches,
            "events": settings.events_per_sample, "rate": settings.spikes_per_neuron,
            "seed": settings.seed, "n_in": settings.n_in, "reg_lambda": settings.reg_lambda,
            "model": dict(settings.model), "training": dict(settings.training)}


def child_env(settings: CostSettings) -> dict[str, str]:
    """Environment variables of a child: thread counts, JAX on the CPU."""
    threads = settings.threads or len(os.sched_getaffinity(0))
    return {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
            "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _pin(threads: int | None):
    """preexec_fn restricting a child to the first `threads` allowed cores (both methods)."""
    if not threads:
        return None
    cores = sorted(os.sched_getaffinity(0))[:threads]
    return lambda: os.sched_setaffinity(0, cores)


def run_child(method: str, n_steps: int, settings: CostSettings) -> dict[str, Any]:
    """One measurement in its own process; its result record (SidecarError on failure)."""
    env, module = METHODS[method]
    return run_module(env, module, child_request(n_steps, settings),
                      timeout=settings.timeout_s, env_vars=child_env(settings),
                      preexec_fn=_pin(settings.threads)).data


def run_benchmark(settings: CostSettings) -> pd.DataFrame:
    """All (T, method) measurements, methods interleaved per T; one row each."""
    records = []
    for n_steps in settings.n_steps:
        for method in settings.methods:
            log.info("measuring %s at T=%d", method, n_steps)
            record = run_child(method, int(n_steps), settings)
            log.info("  -> %.3f s/batch (best), %.3f (median), %.1f MiB",
                     record["batch_min_s"], record["batch_median_s"], record["train_mem_mib"])
            records.append(record)
    return cost_table(records, settings.epoch_samples)


def cost_table(records: Sequence[dict], epoch_samples: int) -> pd.DataFrame:
    """Records -> the CSV table with derived epoch times, sorted by method then T."""
    frame = pd.DataFrame(list(records))
    for column in CSV_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    frame["batches_per_epoch"] = [math.ceil(epoch_samples / b) for b in frame["batch_size"]]
    frame["time_per_epoch_s"] = frame["batch_min_s"] * frame["batches_per_epoch"]
    frame["time_100_epochs_s"] = frame["first_batch_s"] + frame["batch_min_s"] * (
        100 * frame["batches_per_epoch"] - 1)
    frame["versions"] = [json.dumps(v, sort_keys=True) if isinstance(v, dict) else v
                         for v in frame["versions"]]
    order = {m: i for i, m in enumerate(METHODS)}
    frame = frame.assign(_m=frame["method"].map(order).fillna(len(order)))
    frame = frame.sort_values(["_m", "n_steps"], kind="stable").drop(columns="_m")
    return frame[CSV_COLUMNS].reset_index(drop=True)


def settings_record(settings: CostSettings) -> dict:
    """The settings as a plain dict (for provenance)."""
    record = asdict(settings)
    record["n_steps"] = list(settings.n_steps)
    record["methods"] = list(settings.methods)
    return record
