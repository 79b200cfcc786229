"""Benchmark the data layer on an SHD-train-sized file: read, bin, shift, blend, one epoch.

Generates (once, cached) a synthetic split of SHD train's size (8156 samples, ~8,500 events
each, float16 seconds like SHD) with the synthetic generator, then prints wall-clock times.
It asserts nothing about timing. Usage:

    .venv/bin/python benchmarks/bench_data_loading.py [--cache-dir resources/bench] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurokws import paper
from neurokws.data.augment import augment_epoch, blend, shift
from neurokws.data.formats.binning import bin_events
from neurokws.data.formats.events import load_npz, save_npz
from neurokws.data.formats.heidelberg import read_split, write_split
from neurokws.data.sources.synthetic import generate_split

SHD_TRAIN_SAMPLES = 8156


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, list[tuple[float, float]]]:
    """Run fn `repeats` times; return the last result and (wall, process CPU) per run."""
    times, result = [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return result, times


def _report(label: str, times: list[tuple[float, float]], extra: str = "") -> None:
    """One line: first call (includes numba cache load / JIT), then min and median wall time
    of the others, and the CPU time (all threads) of the fastest; CPU >> wall means the
    numba kernels ran in parallel, wall >> CPU means the machine was busy with other work."""
    rest = times[1:] or times
    walls = [w for w, _ in rest]
    best = min(rest)
    print(f"{label:<38s} first {times[0][0]:6.2f} s  min {best[0]:6.2f} s  median "
          f"{statistics.median(walls):6.2f} s  (cpu {best[1]:5.2f} s)  {extra}")


def _bench_file(cache_dir: Path, n_samples: int, seed: int) -> Path:
    """The cached benchmark file; generated on first use."""
    path = cache_dir / f"bench_train_{n_samples}_seed{seed}.h5"
    if not path.exists():
        start = time.perf_counter()
        split = generate_split(n_samples, 20, seed=seed, speakers=range(10))
        generated = time.perf_counter() - start
        start = time.perf_counter()
        write_split(path, split, time_dtype=np.float16)
        print(f"generated {path} in {generated:.1f} s, written in "
              f"{time.perf_counter() - start:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")
    return path


def main() -> None:
    """Parse arguments, build or reuse the file, time each stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path("resources/bench"))
    parser.add_argument("--n-samples", type=int, default=SHD_TRAIN_SAMPLES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dt-ms", type=float, default=1.0)
    parser.add_argument("--n-steps", type=int, default=1000)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"host: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}, "
          f"numpy {np.__version__}")
    path = _bench_file(args.cache_dir, args.n_samples, args.seed)
    reps = max(args.repeats, 1) + 1  # +1: the first call also loads/compiles numba code

    split, t = _timed(lambda: read_split(path), reps)
    _report("read_split (.h5, float16 times)", t,
            f"{len(split)} samples, {split.n_events / 1e6:.1f} M events, "
            f"{split.n_events / len(split):.0f}/sample")
    binned, t = _timed(lambda: bin_events(split, args.dt_ms, args.n_steps), reps)
    _report(f"bin_events dt={args.dt_ms} ms T={args.n_steps}", t,
            f"{binned.n_spikes / 1e6:.1f} M spikes")
    _, t = _timed(lambda: bin_events(read_split(path), args.dt_ms, args.n_steps), reps)
    _report("read + bin", t)

    rng = np.random.default_rng(0)
    shifted, t = _timed(lambda: shift(split, rng, 40), reps)
    _report("shift (all samples)", t, f"kept {shifted.n_events / split.n_events:.1%} events")
    blends, t = _timed(lambda: blend(split, rng, paper.BLEND_N_NEW, args.n_steps, args.dt_ms),
                       reps)
    _report(f"blend ({paper.BLEND_N_NEW} new examples)", t,
            f"{blends.n_events / len(blends):.0f} events/blend")

    def epoch():
        data = augment_epoch(split, rng, ["shift", "blend"], args.n_steps, args.dt_ms,
                             shift_max=40, blend_n_new=paper.BLEND_N_NEW)
        return bin_events(data, args.dt_ms, args.n_steps)

    ep, t = _timed(epoch, reps)
    _report("epoch: blend + shift + bin", t, f"{len(ep)} samples")

    npz = args.cache_dir / "bench_prepared.npz"
    _, t = _timed(lambda: save_npz(npz, split), reps)
    _report("save_npz (prepared format)", t, f"{npz.stat().st_size / 2**20:.0f} MiB")
    _, t = _timed(lambda: load_npz(npz), reps)
    _report("load_npz (prepared format)", t)
    npz.unlink()


if __name__ == "__main__":
    main()
