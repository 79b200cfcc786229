"""Seconds and peak memory per clip: our cochlea (neurokws.data.cochlea) vs lauscher 1.0.1.

Both convert the same clip (default 0.74 s at 22.05 kHz, as the issue measured, a vowel-like
pulse train through moving resonances) at 700 channels, each in its own child process on one
thread (lauscher's worker pools at 1 process, numba/BLAS at 1 thread), so peak RSS is each
side's own. Ours is timed on a first clip (transfer computed, compiled code loaded) and then
per clip with the transfer cached, the way a corpus is converted, twice: unpadded (the
reference's numbers exactly) and with the workflow's padding (`--pad-s`, config
`cochlea.pad_s`: a fast FFT length shared by similar clips). Prints the ratios. Usage:

    .venv/bin/python benchmarks/bench_cochlea.py [--seconds 0.74] [--channels 700]
        [--repeats 5] [--pad-s 0.25] [--skip-lauscher]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

FS = 22050
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


def clip(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * FS)
    t = np.arange(n) / FS
    phase = 2 * np.pi * np.cumsum(110 + 40 * t / seconds) / FS
    x = sum(np.sin(k * phase) / k for k in range(1, 30))
    x = x * (1 + np.sin(2 * np.pi * (400 + 1800 * t) * t)) + 0.01 * rng.standard_normal(n)
    return x * np.hanning(n) ** 0.25


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_ours(seconds: float, channels: int, repeats: int, pad_s: float) -> dict:
    from neurokws.data.cochlea import BasilarMembrane, Cochlea

    co = Cochlea(membrane=BasilarMembrane(channels=channels), pad_s=pad_s)
    x = clip(seconds)
    t0 = time.perf_counter()
    times, _ = co(x, FS, np.random.default_rng(0))
    first = time.perf_counter() - t0
    per_clip = []
    for seed in range(1, repeats + 1):
        t0 = time.perf_counter()
        times, _ = co(x, FS, np.random.default_rng(seed))
        per_clip.append(time.perf_counter() - t0)
    return {"first_s": first, "per_clip_s": per_clip, "spikes": int(times.size),
            "peak_mb": _peak_mb()}


def worker_lauscher(seconds: float, channels: int) -> dict:
    from lauscher.audiowaves import MonoAudioWave
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations.wave2spike import Wave2Spike

    CommandLineArguments().num_concurrent_jobs = 1
    np.random.seed(0)  # noqa: NPY002 - lauscher samples from numpy's global RNG
    t0 = time.perf_counter()
    spikes = MonoAudioWave(clip(seconds), FS).transform(Wave2Spike(num_channels=channels))
    wall = time.perf_counter() - t0
    # Its pools' workers are children: count their peak too.
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": wall, "spikes": int(spikes.spike_times.size),
            "peak_mb": max(_peak_mb(), child)}


def _child(kind: str, args: argparse.Namespace, pad_s: float = 0.0) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--seconds", str(args.seconds),
           "--channels", str(args.channels), "--repeats", str(args.repeats),
           "--pad-s", str(pad_s)]
    out = subprocess.run(cmd, env={**os.environ, **ONE_THREAD}, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.74)
    ap.add_argument("--channels", type=int, default=700)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pad-s", type=float, default=0.25)
    ap.add_argument("--skip-lauscher", action="store_true")
    ap.add_argument("--worker", choices=["ours", "lauscher"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "ours":
        print(json.dumps(worker_ours(args.seconds, args.channels, args.repeats, args.pad_s)))
        return
    if args.worker == "lauscher":
        print(json.dumps(worker_lauscher(args.seconds, args.channels)))
        return

    print(f"clip {args.seconds} s at {FS} Hz, {args.channels} channels, one thread each")
    runs = {}
    for label, pad in (("unpadded", 0.0), (f"pad_s {args.pad_s}", args.pad_s)):
        ours = _child("ours", args, pad)
        runs[label] = (statistics.median(ours["per_clip_s"]), ours)
        print(f"neurokws {label:>12}: first clip {ours['first_s']:.2f} s (transfer + compiled "
              f"code), then median {runs[label][0]:.3f} s per clip "
              f"(min {min(ours['per_clip_s']):.3f}), {ours['spikes']} spikes, "
              f"peak RSS {ours['peak_mb']:.0f} MB")
    if args.skip_lauscher:
        return
    ref = _child("lauscher", args)
    print(f"lauscher: {ref['wall_s']:.1f} s per clip, {ref['spikes']} spikes, "
          f"peak RSS {ref['peak_mb']:.0f} MB")
    for label, (steady, ours) in runs.items():
        print(f"ratio {label:>12}: lauscher / neurokws time per clip "
              f"{ref['wall_s'] / steady:.0f}x (first clip {ref['wall_s'] / ours['first_s']:.0f}x); "
              f"peak memory neurokws / lauscher {ours['peak_mb'] / ref['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
