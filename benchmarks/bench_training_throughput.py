"""Benchmark Eventprop training throughput (forward + backward + gradients) of the engine.

Random SHD-like input (700 channels, T steps, ~8,500 events per sample), paper init with
w_in scaled so hidden neurons fire ~14 spikes per sample. Prints samples/s (wall and per
CPU-second) and peak RSS; asserts nothing about timing. Usage:

    .venv/bin/python benchmarks/bench_training_throughput.py [--hidden 256 1024] [--batches 8]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numba
import numpy as np

from neurokws.config import default_network
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.init import init_weights
from neurokws.model.synthetic import random_events, scale_to_rate


def bench(n_hidden: int, args: argparse.Namespace) -> None:
    """Time `args.batches` training batches at one hidden size and print one summary line."""
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             args.events)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, factor = scale_to_rate(config, init_weights(config, rng, np.float32), steps,
                                    channels, offsets, args.rate)
    reg = RegConfig(lambda_upper=5e-10, lambda_lower=5e-10)
    order = rng.permutation(n_samples)
    start = time.perf_counter()
    loss_and_grad(config, weights, steps, channels, offsets, labels, order[:args.batch], reg,
                  adjoint=args.adjoint)
    first = time.perf_counter() - start
    walls, cpus, spikes = [], [], []
    for b in range(args.batches):
        idx = order[b * args.batch:(b + 1) * args.batch]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        res = loss_and_grad(config, weights, steps, channels, offsets, labels, idx, reg,
                            adjoint=args.adjoint)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        spikes.append(res.hidden_spike_counts.mean())
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"N={n_hidden:5d} T={config.n_steps} B={args.batch} {args.adjoint}: "
          f"{args.batch / wall:7.1f} samples/s wall, {args.batch / cpu:7.1f} samples/CPU-s, "
          f"batch {1e3 * wall:6.1f} ms (min {1e3 * min(walls):6.1f}), first call {first:5.2f} s, "
          f"spikes/neuron/sample {np.mean(spikes):5.1f} (w_in x{factor:.3f}), "
          f"peak RSS {peak:6.0f} MiB")


def main() -> None:
    """Parse arguments and benchmark each requested hidden size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--events", type=int, default=8500)
    parser.add_argument("--rate", type=float, default=14.0, help="target spikes/neuron/sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adjoint", choices=["mlgenn", "discrete"], default="mlgenn")
    args = parser.parse_args()
    print(f"threads: numba {numba.get_num_threads()}, cpus {os.cpu_count()}")
    for n_hidden in args.hidden:
        bench(n_hidden, args)


if __name__ == "__main__":
    main()
