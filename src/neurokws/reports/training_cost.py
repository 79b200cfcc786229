"""Figure 3 style training-cost benchmark: Eventprop (ours) vs BPTT (Spyx) over T.

Each (method, T) runs in its own child process (cost_eventprop in this interpreter,
cost_spyx in the Spyx venv's), one after the other on the same cores, so peak memory
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
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    LogLocator,
    NullFormatter,
    NullLocator,
    ScalarFormatter,
)

from neurokws.reports.cost_common import RESULT_TAG
from neurokws.reports.figures import new_figure, paper_style, save_figure

log = logging.getLogger(__name__)
SRC = Path(__file__).resolve().parents[2]
METHODS = {"eventprop": "neurokws.reports.cost_eventprop",
           "bptt_spyx": "neurokws.reports.cost_spyx"}
METHOD_LABELS = {"eventprop": "Eventprop (ours, numba CPU)",
                 "bptt_spyx": "BPTT surrogate gradient (Spyx, JAX CPU)"}
CSV_COLUMNS = ["method", "n_steps", "dt_ms", "hidden", "n_classes", "batch_size",
               "events_per_sample", "timed_batches", "compile_s", "first_batch_s",
               "batch_median_s", "batch_min_s", "batches_per_epoch", "time_per_epoch_s",
               "time_100_epochs_s", "train_mem_mib", "xla_buffers_mib", "base_rss_mib",
               "peak_rss_mib", "hidden_spikes_per_neuron", "threads", "python", "versions"]


@dataclass
class CostSettings:
    """What to measure (config section `training_cost`)."""

    n_steps: Sequence[int] = (250, 500, 1000, 2000)
    hidden: int = 256
    batch_size: int = 32
    batches: int = 5
    events_per_sample: int = 8500
    spikes_per_neuron: float = 14.0
    n_classes: int = 20
    epoch_samples: int = 8156
    threads: int | None = None
    seed: int = 0
    methods: Sequence[str] = ("eventprop", "bptt_spyx")
    timeout_s: float = 600.0

    @classmethod
    def from_config(cls, section: dict | None) -> CostSettings:
        """Settings from the config's `training_cost` section (unknown keys are an error)."""
        section = dict(section or {})
        section.pop("enabled", None)
        unknown = set(section) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training_cost keys: {sorted(unknown)}")
        settings = cls(**section)
        bad = set(settings.methods) - set(METHODS)
        if bad:
            raise ValueError(f"training_cost.methods: unknown {sorted(bad)}; use {list(METHODS)}")
        return settings


def child_command(method: str, n_steps: int, settings: CostSettings,
                  spyx_python: str | None = None) -> list[str]:
    """The command line of one measurement."""
    python = sys.executable if method == "eventprop" else spyx_python
    if not python:
        raise ValueError("the bptt_spyx method needs the Spyx venv's python (spyx_python)")
    return [python, "-m", METHODS[method], "--steps", str(n_steps),
            "--hidden", str(settings.hidden), "--classes", str(settings.n_classes),
            "--batch", str(settings.batch_size), "--batches", str(settings.batches),
            "--events", str(settings.events_per_sample),
            "--rate", str(settings.spikes_per_neuron), "--seed", str(settings.seed)]


def child_env(settings: CostSettings) -> dict[str, str]:
    """Environment of a child: neurokws importable, thread counts, JAX on the CPU."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    threads = settings.threads or len(os.sched_getaffinity(0))
    env.update(NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2")
    return env


def _pin(threads: int | None):
    """preexec_fn restricting a child to the first `threads` allowed cores (both methods)."""
    if not threads:
        return None
    cores = sorted(os.sched_getaffinity(0))[:threads]
    return lambda: os.sched_setaffinity(0, cores)


def parse_result(stdout: str) -> dict:
    """The child's result record from its stdout."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG + " "):
            return json.loads(line[len(RESULT_TAG) + 1:])
    raise ValueError(f"no '{RESULT_TAG}' line in the child's output")


def run_child(cmd: list[str], settings: CostSettings) -> dict:
    """Run one measurement process and return its record (errors name the command)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(settings),
                          timeout=settings.timeout_s, preexec_fn=_pin(settings.threads),
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"training-cost child failed (exit {proc.returncode}): "
                           f"{' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return parse_result(proc.stdout)


def run_benchmark(settings: CostSettings, spyx_python: str | None = None) -> pd.DataFrame:
    """All (T, method) measurements, methods interleaved per T; one row each."""
    records = []
    for n_steps in settings.n_steps:
        for method in settings.methods:
            cmd = child_command(method, int(n_steps), settings, spyx_python)
            log.info("measuring %s at T=%d: %s", method, n_steps, " ".join(cmd))
            record = run_child(cmd, settings)
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
    record["n_steps"] = [int(t) for t in settings.n_steps]
    record["methods"] = list(settings.methods)
    return record


def _log_axis(ax, ticks: Sequence[int]) -> None:
    """Log2 x axis labelled at the measured T values."""
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(ticks)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())


def _log_y(ax, values: pd.Series) -> None:
    """Log y axis with plain labels at 1, 2, 5 x 10^k, starting at one of them."""
    ax.set_yscale("log")
    low = float(values[values > 0].min()) * 0.9 if (values > 0).any() else 1.0
    decade = 10 ** math.floor(math.log10(low))
    ax.set_ylim(bottom=max(m * decade for m in (1, 2, 5) if m * decade <= low))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_training_cost(frame: pd.DataFrame, png: str | os.PathLike,
                       pdf: str | os.PathLike | None = None) -> None:
    """Two panels: training memory vs T and time per epoch vs T, one line per method."""
    if frame.empty:
        raise ValueError("no training-cost measurements to plot")
    palette = dict(zip(METHODS, sns.color_palette("colorblind", 2), strict=True))
    markers = {"eventprop": "o", "bptt_spyx": "s"}
    ticks = sorted(int(t) for t in frame["n_steps"].unique())
    with paper_style():
        fig = new_figure(2.0)
        ax_mem, ax_time = fig.subplots(1, 2)
        for method, group in frame.groupby("method", sort=False):
            group = group.sort_values("n_steps")
            style = {"color": palette.get(method, "0.3"), "marker": markers.get(method, "^")}
            label = METHOD_LABELS.get(method, method)
            ax_mem.plot(group["n_steps"], group["train_mem_mib"], label=label, **style)
            if group["xla_buffers_mib"].notna().any():
                ax_mem.plot(group["n_steps"], group["xla_buffers_mib"], ls="--", lw=0.8,
                            color=style["color"], label="BPTT: XLA buffers per step")
            ax_time.plot(group["n_steps"], group["time_per_epoch_s"], label=label, **style)
        for ax, column in ((ax_mem, "train_mem_mib"), (ax_time, "time_per_epoch_s")):
            _log_axis(ax, ticks)
            _log_y(ax, frame[column])
            ax.set_xlabel("Timesteps T (trial 1 s)")
            ax.grid(alpha=0.4, which="major")
            sns.despine(ax=ax)
        ax_mem.set_ylabel("Peak training memory (MiB)")
        ax_time.set_ylabel("Time per epoch (s)")
        ax_mem.set_title("A", loc="left", fontweight="bold")
        ax_time.set_title("B", loc="left", fontweight="bold")
        fig.legend(*ax_mem.get_legend_handles_labels(), loc="outside upper center",
                   ncols=1, frameon=False)
        save_figure(fig, png, pdf)
