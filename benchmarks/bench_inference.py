"""Float inference throughput of the engine (forward only) at batch 1 and batch 256.

Batch 1: samples one after another, one infer() call each (wall/sample = latency, one core).
Batch 256: one infer() call on 256 samples split over the threads. Random SHD-like input,
w_in scaled to ~14 hidden spikes per neuron per sample. Prints samples/s (wall and per
CPU-second), wall time per sample and timestep, synaptic operations per second; asserts
nothing. Usage:

    .venv/bin/python benchmarks/bench_inference.py [--hidden 256 1024] [--samples 256]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numba
import numpy as np

from neurokws.config import default_network
from neurokws.model.engine import infer
from neurokws.model.init import init_weights
from neurokws.model.network import NetworkConfig
from neurokws.model.synthetic import random_events, scale_to_rate


def _line(label: str, n: int, wall: float, cpu: float, config: NetworkConfig,
          sops: float) -> str:
    """One formatted result line."""
    return (f"{label}: {n / wall:8.1f} samples/s wall, {n / cpu:8.1f} samples/CPU-s, "
            f"wall {1e3 * wall / n:6.2f} ms/sample ({1e6 * wall / n / config.n_steps:5.2f} "
            f"us/step), {sops / wall / 1e9:5.2f} GSOP/s")


def bench(n_hidden: int, args: argparse.Namespace) -> None:
    """Measure both batch sizes at one hidden size."""
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    steps, channels, offsets = random_events(rng, args.samples, config.n_in, config.n_steps,
                                             args.events)
    weights, _ = scale_to_rate(config, init_weights(config, rng, np.float32), steps, channels,
                               offsets, args.rate)
    every = np.arange(args.samples, dtype=np.int64)
    infer(config, weights, steps, channels, offsets, every[:2])  # load / compile
    wall0, cpu0 = time.perf_counter(), time.process_time()
    _, counts = infer(config, weights, steps, channels, offsets, every, batch_size=256)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sops = steps.size * n_hidden + counts.sum() * (n_hidden + config.n_out)
    print(f"N={n_hidden:5d} T={config.n_steps}, {counts.mean():.1f} spikes/neuron/sample")
    print("  " + _line("batch 256", args.samples, wall, cpu, config, sops))
    n_single = min(args.samples, args.single)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for s in range(n_single):
        infer(config, weights, steps, channels, offsets, every[s:s + 1], batch_size=1)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print("  " + _line("batch   1", n_single, wall, cpu, config,
                       sops * n_single / args.samples))


def main() -> None:
    """Parse arguments and benchmark each hidden size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--single", type=int, default=64, help="samples timed at batch 1")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--events", type=int, default=8500)
    parser.add_argument("--rate", type=float, default=14.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"threads: numba {numba.get_num_threads()}, cpus {os.cpu_count()}")
    for n_hidden in args.hidden:
        bench(n_hidden, args)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
