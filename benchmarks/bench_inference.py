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

import numba
import numpy as np

from bench_common import Stopwatch, engine_parser
from neurokws.config import default_network
from neurokws.model.engine import infer
from neurokws.model.network import NetworkConfig
from neurokws.model.workload import synthetic_setup


def _line(label: str, n: int, wall: float, cpu: float, config: NetworkConfig,
          sops: float) -> str:
    """One formatted result line."""
    return (f"{label}: {n / wall:8.1f} samples/s wall, {n / cpu:8.1f} samples/CPU-s, "
            f"wall {1e3 * wall / n:6.2f} ms/sample ({1e6 * wall / n / config.n_steps:5.2f} "
            f"us/step), {sops / wall / 1e9:5.2f} GSOP/s")


def bench(n_hidden: int, args: argparse.Namespace) -> None:
    """Measure both batch sizes at one hidden size."""
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    data = synthetic_setup(config, np.random.default_rng(args.seed), args.samples, args.events,
                           args.rate, labels=False)
    inputs = (config, data.weights, data.steps, data.channels, data.offsets)
    every = np.arange(args.samples, dtype=np.int64)
    infer(*inputs, every[:2])  # load / compile
    watch = Stopwatch()
    with watch:
        _, counts = infer(*inputs, every, batch_size=256)
    sops = data.steps.size * n_hidden + counts.sum() * (n_hidden + config.n_out)
    print(f"N={n_hidden:5d} T={config.n_steps}, {counts.mean():.1f} spikes/neuron/sample")
    print("  " + _line("batch 256", args.samples, *watch.last, config, sops))
    n_single = min(args.samples, args.single)
    with watch:
        for s in range(n_single):
            infer(*inputs, every[s:s + 1], batch_size=1)
    print("  " + _line("batch   1", n_single, *watch.last, config,
                       sops * n_single / args.samples))


def main() -> None:
    """Parse arguments and benchmark each hidden size."""
    parser = engine_parser(__doc__, batch=None, batches=None)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--single", type=int, default=64, help="samples timed at batch 1")
    args = parser.parse_args()
    print(f"threads: numba {numba.get_num_threads()}, cpus {os.cpu_count()}")
    for n_hidden in args.hidden:
        bench(n_hidden, args)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
