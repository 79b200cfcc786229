"""Batch-parallel Eventprop: does throughput scale with threads, and are results identical?

For each hidden size, in one process on the same data: `loss_and_grad` at batch 1 on one
thread (the sequential reference), at batch B on one thread and at batch B on all threads.
Prints samples/s (wall), samples per CPU-second, the parallel efficiency at batch B (all
threads against one: samples per CPU-second, and the wall speed-up divided by the threads;
goal >= 0.9), and whether 1 and all threads gave bit-identical gradients.

    .venv/bin/python benchmarks/bench_engine_threads.py [--hidden 256 1024] [--batch 32]

To compare two versions of the engine side by side, run it once per checkout in one shell
command, e.g. `PYTHONPATH=<other checkout>/src .venv/bin/python benchmarks/...`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import numpy as np

import neurokws
from neurokws.config import default_network
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.init import init_weights
from neurokws.model.synthetic import random_events, scale_to_rate
from neurokws.utils.provenance import cpu_model


def timed(run, batches: list[np.ndarray]) -> tuple[float, float, list]:
    """Median wall and CPU seconds per batch over `batches` (after one warm-up call)."""
    run(batches[0])
    walls, cpus, grads = [], [], []
    for batch in batches:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        grads.append(run(batch))
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return statistics.median(walls), statistics.median(cpus), grads


def bench(n_hidden: int, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             args.events)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, _ = scale_to_rate(config, init_weights(config, rng, np.float32), steps, channels,
                               offsets, args.rate)
    reg = RegConfig(nu_upper=14.0, lambda_upper=5e-10, lambda_lower=5e-10)
    order = rng.permutation(n_samples).astype(np.int64)

    def run(batch: np.ndarray):
        return loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                             reg).grads

    most = numba.config.NUMBA_NUM_THREADS
    singles = [order[i:i + 1] for i in range(min(n_samples, args.singles))]
    batches = [order[i:i + args.batch] for i in range(0, n_samples, args.batch)]
    rows = {}
    for label, threads, work, size in (("B=1, 1 thread", 1, singles, 1),
                                       (f"B={args.batch}, 1 thread", 1, batches, args.batch),
                                       (f"B={args.batch}, {most} threads", most, batches,
                                        args.batch)):
        numba.set_num_threads(threads)
        wall, cpu, grads = timed(run, work)
        rows[label] = (size / wall, size / cpu, grads)
        print(f"N={n_hidden:5d} {label:>20}: {size / wall:8.1f} samples/s wall, "
              f"{size / cpu:8.1f} samples/CPU-s")
    ref = rows["B=1, 1 thread"][1]
    par = rows[f"B={args.batch}, {most} threads"]
    one = rows[f"B={args.batch}, 1 thread"]
    same = all(np.array_equal(getattr(a, k), getattr(b, k)) for a, b in
               zip(one[2], par[2], strict=True) for k in ("w_in", "w_rec", "w_out"))
    print(f"N={n_hidden:5d} B={args.batch}, {most} threads vs 1: efficiency per CPU-s "
          f"{par[1] / one[1]:.3f}, wall speed-up {par[0] / one[0]:.2f}x (/ {most} = "
          f"{par[0] / one[0] / most:.3f}); per CPU-s vs B=1 on 1 thread {par[1] / ref:.2f}x; "
          f"gradients bit-identical for 1 and {most} threads: {same}; CPU {cpu_model()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--singles", type=int, default=96, help="batch-1 calls timed")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--events", type=int, default=8500)
    parser.add_argument("--rate", type=float, default=14.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"neurokws from {neurokws.__file__}; numba threads available "
          f"{numba.config.NUMBA_NUM_THREADS}")
    for n_hidden in args.hidden:
        bench(n_hidden, args)


if __name__ == "__main__":
    main()
