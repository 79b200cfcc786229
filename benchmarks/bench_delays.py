"""Training throughput with synaptic delays vs without, same engine, same data, one run.

Random SHD-like input (700 channels, T steps, ~8,500 events per sample), paper init scaled
so hidden neurons fire ~14 spikes per sample (as benchmarks/bench_training_throughput.py),
and delays drawn uniformly from 0..D on the input and the recurrent connection (D = 62:
Loihi 2's maximum). Forward + Eventprop backward (loss_and_grad) batch by batch, the delayed
and the delay-free network alternating on the same batches, one thread. Prints samples per
CPU-second of both and the ratio (issue 14's goal: >= 0.5x). Usage:

    .venv/bin/python benchmarks/bench_delays.py [--hidden 256] [--steps 1000] [--batch 32]
        [--batches 6] [--max-delay 62]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numba
import numpy as np

from neurokws.config import default_network
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.init import init_weights
from neurokws.model.network import Delays
from neurokws.model.synthetic import random_events, scale_to_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--events", type=int, default=8500)
    parser.add_argument("--max-delay", type=int, default=62)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    numba.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    config = default_network(n_hidden=args.hidden, n_out=20, n_steps=args.steps)
    n_samples = args.batch * args.batches
    steps, channels, offsets = random_events(rng, n_samples, config.n_in, config.n_steps,
                                             args.events)
    labels = rng.integers(0, config.n_out, n_samples).astype(np.int32)
    weights, _ = scale_to_rate(config, init_weights(config, rng, np.float32), steps, channels,
                               offsets, 14.0)
    delays = Delays(rng.integers(0, args.max_delay + 1, weights.w_in.shape).astype(np.int32),
                    rng.integers(0, args.max_delay + 1, weights.w_rec.shape).astype(np.int32))
    reg = RegConfig(lambda_upper=5e-10, lambda_lower=5e-10)
    delayed = dataclasses.replace(config, max_delay_in=args.max_delay,
                                  max_delay_rec=args.max_delay)   # the same network + delays
    nets = {"no delays": config, f"delays 0..{args.max_delay}": delayed}
    variants = {"no delays": None, f"delays 0..{args.max_delay}": delays}
    cpu = {name: [] for name in variants}
    spikes = {name: [] for name in variants}
    for name, d in variants.items():   # compile and warm up
        loss_and_grad(nets[name], weights, steps, channels, offsets, labels,
                      np.arange(args.batch), reg, delays=d)
    for b in range(args.batches):
        idx = np.arange(b * args.batch, (b + 1) * args.batch)
        for name, d in variants.items():
            cpu0 = time.process_time()
            res = loss_and_grad(nets[name], weights, steps, channels, offsets, labels, idx,
                                reg, delays=d)
            cpu[name].append(time.process_time() - cpu0)
            spikes[name].append(res.hidden_spike_counts.mean())
    rates = {name: args.batch / statistics.median(times) for name, times in cpu.items()}
    for name, rate in rates.items():
        print(f"{name:>16}: {rate:8.1f} samples per CPU-second "
              f"({statistics.mean(spikes[name]):.1f} hidden spikes per neuron per sample)")
    base, delayed = rates["no delays"], rates[f"delays 0..{args.max_delay}"]
    print(f"N = {args.hidden}, T = {args.steps}, batch {args.batch}, one thread: "
          f"with delays / without = {delayed / base:.2f}x (goal >= 0.5x)")


if __name__ == "__main__":
    main()
