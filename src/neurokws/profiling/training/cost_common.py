"""Shared parts of the training-cost child processes (numpy + stdlib only: runs in .venv-spyx).

Every measurement runs in its own process (`neurokws.utils.sidecar.run_module`) so its
memory belongs to that measurement alone. Memory is sampled from /proc/self/statm by a
thread (1 ms): ru_maxrss is not used because on Linux a child's ru_maxrss starts from its
parent's high-water mark at fork/exec, so a large parent (the Snakemake rule process) would
hide the child's own peak. A child's `sidecar_main(request, arrays)` takes the request that
`neurokws.profiling.training.training_cost.child_request` builds and returns `result(...)`.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

TRIAL_MS = 1000.0  # SHD/SSC trials are cropped at 1 s; T timesteps means dt = 1 s / T
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int | str = "self") -> int:
    """Current resident set size of a process in bytes (/proc/<pid>/statm)."""
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE


def pss_bytes(pid: int | str = "self") -> int:
    """Proportional set size of a process (pages shared with others counted by share), in
    bytes, from /proc/<pid>/smaps_rollup; its RSS where that file is missing."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss_bytes(pid)


def tree_rss_bytes(pid: int | str = "self") -> int:
    """Memory of a process and all its descendants (e.g. a Lava side process and the
    worker processes it forks), in bytes: the sum of their proportional set sizes, so pages
    the forked processes share are counted once, as a cgroup (SLURM) counts them."""
    total, todo = 0, [str(pid)]
    while todo:
        current = todo.pop()
        try:
            total += pss_bytes(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(handle.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue   # it ended meanwhile
    return total


class RssSampler(threading.Thread):
    """Background thread that records the largest RSS seen while it runs (1 ms period);
    with tree=True the RSS of this process and its descendants together."""

    def __init__(self, period_s: float = 0.001, tree: bool = False) -> None:
        super().__init__(daemon=True)
        self.period_s = period_s
        self.read = tree_rss_bytes if tree else rss_bytes
        self.peak = self.read()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.read())
            time.sleep(self.period_s)

    def stop(self) -> int:
        """Stop sampling; return the peak RSS in bytes."""
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, self.read())
        return self.peak


def random_events(seed: int, n_samples: int, n_in: int, n_steps: int,
                  events_per_sample: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SHD-like random input: distinct (step, channel) events per sample, sorted by step.

    Returns flat int32 steps and channels and int64 offsets (sample s owns
    offsets[s]:offsets[s+1]). The number of events does not depend on T (the same 1 s of
    audio binned more finely), capped at one event per channel and step.
    """
    rng = np.random.default_rng(seed)
    per = min(int(events_per_sample), n_in * n_steps)
    steps, channels = [], []
    for _ in range(n_samples):
        flat = np.sort(rng.choice(n_in * n_steps, size=per, replace=False))
        steps.append((flat // n_in).astype(np.int32))
        channels.append((flat % n_in).astype(np.int32))
    offsets = np.arange(n_samples + 1, dtype=np.int64) * per
    return np.concatenate(steps), np.concatenate(channels), offsets


def dense_batch(steps: np.ndarray, channels: np.ndarray, offsets: np.ndarray,
                samples: np.ndarray, n_steps: int, n_in: int) -> np.ndarray:
    """Time-major binary input (T, B, n_in) as uint8 for the given samples."""
    out = np.zeros((n_steps, len(samples), n_in), np.uint8)
    for b, s in enumerate(samples):
        lo, hi = offsets[s], offsets[s + 1]
        out[steps[lo:hi], b, channels[lo:hi]] = 1
    return out



def measure(step: Callable[[int], Any], n_timed: int,
            prepare: Callable[[], Any] | None = None) -> dict[str, Any]:
    """prepare() (ahead-of-time compilation), step(0) (first batch), then time step(1..n).

    Memory: the RSS sampler's peak over all of it minus the RSS before it, so the
    interpreter, the libraries and the data set are excluded (the paper subtracted the data
    set from the GPU memory); JIT compilation is included, like the paper's timings.
    Allocators keep freed memory, so only this peak (not a later baseline) is meaningful.
    """
    base = rss_bytes()
    sampler = RssSampler()
    sampler.start()
    start = time.perf_counter()
    compile_s = math.nan
    if prepare is not None:
        prepare()
        compile_s = time.perf_counter() - start
    step(0)
    first = time.perf_counter() - start
    times = []
    for b in range(1, n_timed + 1):
        start = time.perf_counter()
        step(b)
        times.append(time.perf_counter() - start)
    peak = sampler.stop()
    return {"compile_s": compile_s, "first_batch_s": first, "times": times, "base": base,
            "peak": peak}


def result(method: str, args: Any, timing: dict[str, Any],
           versions: dict[str, str], **extra: Any) -> dict[str, Any]:
    """The child's result record (times in s, memory in MiB)."""
    times, base, peak = timing["times"], timing["base"], timing["peak"]
    return {"method": method, "n_steps": args.steps, "dt_ms": TRIAL_MS / args.steps,
            "hidden": args.hidden, "n_classes": args.classes, "batch_size": args.batch,
            "events_per_sample": args.events, "timed_batches": len(times),
            "compile_s": timing["compile_s"], "first_batch_s": timing["first_batch_s"],
            "batch_median_s": statistics.median(times) if times else math.nan,
            "batch_min_s": min(times) if times else math.nan,
            "base_rss_mib": base / 2**20, "peak_rss_mib": peak / 2**20,
            "train_mem_mib": (peak - base) / 2**20,
            "python": platform.python_version(), "versions": versions, **extra}

