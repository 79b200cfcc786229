"""Benchmark Eventprop training throughput (forward + backward + gradients) of the engine.

Random SHD-like input (700 channels, T steps, ~8,500 events per sample), paper init with
w_in scaled so hidden neurons fire ~14 spikes per sample. Prints samples/s (wall and per
CPU-second) and peak RSS; asserts nothing about timing. Usage:

    .venv/bin/python benchmarks/bench_training_throughput.py [--hidden 256 1024] [--batches 8]

--compare-engine FILE loads another version of src/neurokws/model/engine.py (e.g.
`git show <rev>:src/neurokws/model/engine.py > /tmp/engine_before.py`) and times both in
this process, batch by batch interleaved on the same data, printing the ratio (the other
version must use the same kernels.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import sys
import time

import numba
import numpy as np

from neurokws.config import default_network
from neurokws.model import engine
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


def compare(n_hidden: int, other_path: str, args: argparse.Namespace) -> None:
    """This engine and the one in `other_path`, interleaved batch by batch (same data)."""
    spec = importlib.util.spec_from_file_location("engine_other", other_path)
    other = importlib.util.module_from_spec(spec)
    sys.modules["engine_other"] = other
    spec.loader.exec_module(other)
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             args.events)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, _ = scale_to_rate(config, init_weights(config, rng, np.float32), steps,
                               channels, offsets, args.rate)
    reg = RegConfig(lambda_upper=5e-10, lambda_lower=5e-10)
    batches = [np.arange(i, i + args.batch) for i in range(0, n_samples, args.batch)]
    versions = {"this": engine, "other": other}
    times: dict[str, list[float]] = {name: [] for name in versions}
    for module in versions.values():   # warm-up (compilation) outside the timing
        module.loss_and_grad(config, weights, steps, channels, offsets, labels, batches[0], reg)
    for rep in range(args.repeats):
        names = list(versions) if rep % 2 == 0 else list(versions)[::-1]
        for batch in batches:
            for name in names:
                start = time.perf_counter()
                versions[name].loss_and_grad(config, weights, steps, channels, offsets,
                                             labels, batch, reg)
                times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"N={n_hidden:5d} T={config.n_steps} B={args.batch}, {numba.get_num_threads()} "
          f"threads, {len(times['this'])} batches each: this {args.batch / med['this']:7.1f} "
          f"samples/s, other ({other_path}) {args.batch / med['other']:7.1f} samples/s; "
          f"this / other throughput {med['other'] / med['this']:.3f}")


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
    parser.add_argument("--compare-engine", metavar="FILE",
                        help="another engine.py to time against this one, interleaved")
    parser.add_argument("--repeats", type=int, default=8, help="passes in --compare-engine")
    args = parser.parse_args()
    print(f"threads: numba {numba.get_num_threads()}, cpus {os.cpu_count()}")
    for n_hidden in args.hidden:
        if args.compare_engine:
            compare(n_hidden, args.compare_engine, args)
        else:
            bench(n_hidden, args)


if __name__ == "__main__":
    main()
