"""Batch-parallel Eventprop: does throughput scale with threads, and are results identical?

For each hidden size, in one process on the same data: `loss_and_grad` at batch 1 on one
thread (the sequential reference), then at batch B on one thread and on all threads,
alternately batch by batch (so that a drift of the machine's speed hits both alike).
Prints samples/s (wall), samples per CPU-second, the parallel efficiency at batch B (all
threads against one: samples per CPU-second, and the wall speed-up divided by the threads;
goal >= 0.9), and whether 1 and all threads gave bit-identical gradients.

It also prints the machine's floor: the same efficiency for a kernel that touches no memory
(a chain of multiply-adds on registers), run on the same threads in the same way. A virtual
machine whose cores share a physical core or a power budget gives less than 1.0 there, and
no engine can do better than that floor.

    .venv/bin/python benchmarks/bench_engine_threads.py [--hidden 256 1024] [--batch 32]

To compare two versions of the engine side by side, run it once per checkout in one shell
command, e.g. `PYTHONPATH=<other checkout>/src .venv/bin/python benchmarks/...`.
"""

from __future__ import annotations

import argparse
import threading
import time

import numba
import numpy as np

import neurokws
from bench_common import Stopwatch, engine_parser
from neurokws.config import default_network, schema_default
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.workload import synthetic_setup
from neurokws.utils.provenance import cpu_model


def timed(run, batches: list[np.ndarray]) -> tuple[float, float, list]:
    """Median wall and CPU seconds per batch over `batches` (after one warm-up call)."""
    run(batches[0])
    watch, grads = Stopwatch(), []
    for batch in batches:
        with watch:
            grads.append(run(batch))
    return (*watch.median, grads)


def alternately(run, batches: list[np.ndarray], thread_counts: tuple[int, ...]
                ) -> dict[int, tuple[float, float, list]]:
    """timed() for each thread count, the counts taking turns batch by batch (the order
    reversed every other batch)."""
    out: dict[int, tuple[Stopwatch, list]] = {n: (Stopwatch(), []) for n in thread_counts}
    for n in thread_counts:   # warm-up (compilation, pool start) outside the timing
        numba.set_num_threads(n)
        run(batches[0])
    for b, batch in enumerate(batches):
        for n in thread_counts if b % 2 == 0 else thread_counts[::-1]:
            numba.set_num_threads(n)
            with out[n][0]:
                out[n][1].append(run(batch))
    return {n: (*watch.median, grads) for n, (watch, grads) in out.items()}


@numba.njit(nogil=True, fastmath=True)
def _registers(n: int) -> float:
    """n rounds of 64 independent multiply-adds on values that stay in registers."""
    a = np.ones(64, np.float32)
    b = np.full(64, 1.0000001, np.float32)
    for _ in range(n):
        for j in range(64):
            a[j] = a[j] * b[j] + np.float32(1e-7)
    return a.sum()


def floor(threads: int, rounds: int = 2_000_000, repeats: int = 5) -> tuple[float, float]:
    """The machine's own efficiency (per CPU-s, wall speed-up / threads) for `threads`
    copies of a memory-free kernel against one copy, alternately, median of `repeats`."""
    _registers(10)

    def run(k: int) -> tuple[float, float]:
        workers = [threading.Thread(target=_registers, args=(rounds,)) for _ in range(k)]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.process_time() - cpu0, time.perf_counter() - wall0

    ratios = []
    for _ in range(repeats):
        (c1, w1), (ck, wk) = run(1), run(threads)
        ratios.append((threads * c1 / ck, w1 / wk))   # k copies: k times the work
    per_cpu, wall = np.median(np.array(ratios), axis=0)
    return float(per_cpu), float(wall)


def bench(n_hidden: int, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    data = synthetic_setup(config, rng, n_samples, args.events, args.rate)
    reg = RegConfig(nu_upper=schema_default("training.nu_upper"), lambda_upper=5e-10,
                    lambda_lower=5e-10)
    order = rng.permutation(n_samples).astype(np.int64)

    def run(batch: np.ndarray):
        return loss_and_grad(config, data.weights, data.steps, data.channels, data.offsets,
                             data.labels, batch, reg).grads

    most = numba.config.NUMBA_NUM_THREADS
    singles = [order[i:i + 1] for i in range(min(n_samples, args.singles))]
    batches = [order[i:i + args.batch] for i in range(0, n_samples, args.batch)]
    numba.set_num_threads(1)
    wall, cpu, _ = timed(run, singles)
    print(f"N={n_hidden:5d} {'B=1, 1 thread':>20}: {1 / wall:8.1f} samples/s wall, "
          f"{1 / cpu:8.1f} samples/CPU-s")
    ref = 1 / cpu
    rows = {}
    for threads, (wall, cpu, grads) in alternately(run, batches, (1, most)).items():
        rows[threads] = (args.batch / wall, args.batch / cpu, grads)
        label = f"B={args.batch}, {threads} thread{'s' if threads > 1 else ''}"
        print(f"N={n_hidden:5d} {label:>20}: {args.batch / wall:8.1f} samples/s wall, "
              f"{args.batch / cpu:8.1f} samples/CPU-s")
    one, par = rows[1], rows[most]
    same = all(np.array_equal(getattr(a, k), getattr(b, k)) for a, b in
               zip(one[2], par[2], strict=True) for k in ("w_in", "w_rec", "w_out"))
    print(f"N={n_hidden:5d} B={args.batch}, {most} threads vs 1: efficiency per CPU-s "
          f"{par[1] / one[1]:.3f}, wall speed-up {par[0] / one[0]:.2f}x (/ {most} = "
          f"{par[0] / one[0] / most:.3f}); per CPU-s vs B=1 on 1 thread {par[1] / ref:.2f}x; "
          f"gradients bit-identical for 1 and {most} threads: {same}; CPU {cpu_model()}")


def main() -> None:
    parser = engine_parser(__doc__, batches=6)
    parser.add_argument("--singles", type=int, default=96, help="batch-1 calls timed")
    args = parser.parse_args()
    print(f"neurokws from {neurokws.__file__}; numba threads available "
          f"{numba.config.NUMBA_NUM_THREADS}")
    most = numba.config.NUMBA_NUM_THREADS
    if most > 1:
        per_cpu, wall = floor(most)
        print(f"machine floor, {most} threads vs 1 on a kernel without memory traffic: "
              f"efficiency per CPU-s {per_cpu:.3f}, wall speed-up / {most} = {wall:.3f}")
    for n_hidden in args.hidden:
        bench(n_hidden, args)


if __name__ == "__main__":
    main()
