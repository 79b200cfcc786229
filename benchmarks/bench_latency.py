"""Inference latency of the float engine on this CPU next to the paper's Jetson figures (Table II).

Runs neurokws.profiling.profile_cpu (perf_counter_ns around each batch, warm-up excluded;
RAPL energy when readable) for N = 256, 512, 1024 on SHD-like random input (T = 1000,
~8,500 events per sample, w_in scaled so hidden neurons fire ~14 spikes per sample). Batch 1
is the latency the paper reports (Jetson Orin Nano: 25.5 / 26.0 / 27.4 ms); larger batches
show throughput (latency per batch and per sample). Asserts nothing. Usage:

    .venv/bin/python benchmarks/bench_latency.py [--hidden 256 512 1024] [--batches 1 32 128]
        [--samples 128] [--single 32] [--idle 1.0] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import math
import os
from types import SimpleNamespace

import numba
import numpy as np

from bench_common import engine_parser
from neurokws.config import default_network
from neurokws.model.workload import synthetic_setup
from neurokws.profiling.inference.cpu import profile_cpu
from neurokws.profiling.inference.profile import write_rows
from neurokws.profiling.inference.records import ProfileRow

PAPER_JETSON_B1_MS = {256: 25.5, 512: 26.0, 1024: 27.4}


def _fmt(value: float, spec: str) -> str:
    """Format a number, '-' for NaN."""
    return format(value, spec) if math.isfinite(value) else "-"


def bench(n_hidden: int, args: argparse.Namespace) -> list[ProfileRow]:
    """Profile every batch size at one hidden size; batch 1 on the first --single samples."""
    config = default_network(n_hidden=n_hidden, n_out=20, n_steps=args.steps)
    setup = synthetic_setup(config, np.random.default_rng(args.seed), args.samples,
                            args.events, args.rate, labels=False)
    weights = setup.weights
    data = SimpleNamespace(steps=setup.steps, channels=setup.channels, offsets=setup.offsets)
    common = dict(model=f"random N={n_hidden}", idle_s=args.idle, rate_hz=20.0,
                  min_active_s=args.min_active)
    rows = []
    for batch_size in args.batches:
        limit = args.single if batch_size == 1 else args.samples
        rows += profile_cpu(config, weights, data, [batch_size], max_samples=limit, **common)
    return rows


def report(rows: list[ProfileRow]) -> None:
    """Print one line per row, with the paper's Jetson batch-1 latency beside batch 1."""
    print(f"{'N':>5} {'B':>4} {'ms/batch':>9} {'ms/sample':>9} {'us/step':>8} "
          f"{'spk/neur':>8} {'SOP/smp':>9} {'mJ/smp':>7} {'Jetson B=1 (paper)':>19}")
    for row in rows:
        paper = PAPER_JETSON_B1_MS.get(row.hidden_size) if row.batch_size == 1 else None
        print(f"{row.hidden_size:5d} {row.batch_size:4d} {row.latency_batch_ms:9.2f} "
              f"{row.latency_sample_ms:9.3f} {row.latency_step_us:8.2f} "
              f"{row.hidden_spikes_per_sample / row.hidden_size:8.1f} "
              f"{row.sop_per_sample:9.3g} {_fmt(row.energy_total_mJ, '7.2f')} "
              f"{'' if paper is None else f'{paper:.1f} ms':>19}")
    notes = sorted({r.notes for r in rows if r.notes})
    for note in notes:
        print(f"  note: {note}")


def main() -> None:
    """Parse arguments, profile each hidden size, print (and optionally save) the rows."""
    parser = engine_parser(__doc__, hidden=(256, 512, 1024), batch=None, batches=(1, 32, 128))
    parser.add_argument("--samples", type=int, default=128, help="samples for batches > 1")
    parser.add_argument("--single", type=int, default=32, help="samples timed at batch 1")
    parser.add_argument("--idle", type=float, default=1.0, help="idle window (s), with RAPL")
    parser.add_argument("--min-active", type=float, default=0.0)
    parser.add_argument("--csv", default=None, help="also write the rows to this CSV")
    args = parser.parse_args()
    print(f"threads: numba {numba.get_num_threads()}, cpus {os.cpu_count()}; T={args.steps}, "
          f"{args.events} events/sample, target {args.rate} spikes/neuron/sample")
    rows = []
    for n_hidden in args.hidden:
        rows += bench(n_hidden, args)
    report(rows)
    if args.csv:
        write_rows(args.csv, rows)


if __name__ == "__main__":
    main()
